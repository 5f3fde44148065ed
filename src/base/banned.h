/* banned.h — functions kura code must not call (docs/style.md item 18; git's banned.h).
 *
 * The system headers that declare them are included first so that their declarations are seen
 * before the macros below exist; any later call then fails to compile with a message naming the
 * replacement. src/base/alloc.c defines KURA_ALLOW_RAW_ALLOC to reach the real allocator.
 */
#pragma once

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KURA_BANNED(func) sorry_##func##_is_banned_in_kura

#undef strcpy
#define strcpy(x, y) KURA_BANNED(strcpy_use_kura_buf)
#undef strcat
#define strcat(x, y) KURA_BANNED(strcat_use_kura_buf)
#undef strncpy
#define strncpy(x, y, n) KURA_BANNED(strncpy_use_memcpy_with_checked_length)
#undef strncat
#define strncat(x, y, n) KURA_BANNED(strncat_use_kura_buf)
#undef sprintf
#define sprintf(...) KURA_BANNED(sprintf_use_snprintf_or_kura_buf_addf)
#undef vsprintf
#define vsprintf(...) KURA_BANNED(vsprintf_use_vsnprintf)
#undef strtok
#define strtok(x, y) KURA_BANNED(strtok_use_kura_str_split)
#undef strtok_r
#define strtok_r(x, y, z) KURA_BANNED(strtok_r_use_kura_str_split)
#undef gets
#define gets(x) KURA_BANNED(gets)
#undef atoi
#define atoi(x) KURA_BANNED(atoi_use_kura_parse_u64)
#undef atol
#define atol(x) KURA_BANNED(atol_use_kura_parse_u64)
#undef atoll
#define atoll(x) KURA_BANNED(atoll_use_kura_parse_u64)
#undef strtol
#define strtol(x, y, z) KURA_BANNED(strtol_use_kura_parse_u64)
#undef strtoul
#define strtoul(x, y, z) KURA_BANNED(strtoul_use_kura_parse_u64)
#undef strtoll
#define strtoll(x, y, z) KURA_BANNED(strtoll_use_kura_parse_u64)
#undef strtoull
#define strtoull(x, y, z) KURA_BANNED(strtoull_use_kura_parse_u64)

#ifndef KURA_ALLOW_RAW_ALLOC
#undef malloc
#define malloc(x) KURA_BANNED(malloc_use_kura_malloc)
#undef calloc
#define calloc(x, y) KURA_BANNED(calloc_use_kura_calloc)
#undef realloc
#define realloc(x, y) KURA_BANNED(realloc_use_kura_reallocarray)
#undef strdup
#define strdup(x) KURA_BANNED(strdup_use_kura_strdup)
#undef strndup
#define strndup(x, y) KURA_BANNED(strndup_use_kura_strndup)
#endif

/* err.c — the one table of kura's application error codes (docs/style.md item 12).
 *
 * Each entry: the code, a stable machine name used on the wire ({"error":{"code":name}}), the
 * HTTP status a handler answers with, and the message in English and Japanese. Messages are
 * lower-case without a final period (item 32); Japanese messages end without "。" likewise.
 */
#include "base.h"

#include <string.h>

struct err_entry {
    int code;
    const char *name;
    unsigned status;
    const char *en;
    const char *ja;
};

static const struct err_entry table[] = {
    {KURA_EBADREQ, "bad_request", 400, "malformed request", "リクエストの形式が正しくありません"},
    {KURA_EBADPATH, "bad_path", 400,
     "path rejected: traversal, encoded separator, NUL byte, bad escape or invalid UTF-8",
     "パスを受け付けられません（上位参照、符号化された区切り文字、NUL、不正なエスケープまたは不正な"
     " "
     "UTF-8）"},
    {KURA_EFRAMING, "bad_framing", 400,
     "ambiguous message framing: duplicate or conflicting Content-Length or Transfer-Encoding",
     "メッセージ長の指定があいまいです（Content-Length または Transfer-Encoding "
     "の重複・矛盾）"},
    {KURA_EBADHDR, "bad_header", 400, "header contains forbidden characters",
     "ヘッダに使用できない文字が含まれています"},
    {KURA_EURILONG, "uri_too_long", 414, "request URI too long", "リクエスト URI が長すぎます"},
    {KURA_EHDRLARGE, "headers_too_large", 431, "request headers too large",
     "リクエストヘッダが大きすぎます"},
    {KURA_EBODYLARGE, "body_too_large", 413, "request body too large",
     "リクエスト本文が大きすぎます"},
    {KURA_ENOTFOUND, "not_found", 404, "no such resource", "該当するリソースがありません"},
    {KURA_EMETHOD, "method_not_allowed", 405, "method not allowed for this resource",
     "このリソースではそのメソッドを使用できません"},
    {KURA_EHOST, "host_not_allowed", 421, "host name not allowed for this server",
     "このサーバーでは許可されていないホスト名です"},
    {KURA_EBUSY, "unavailable", 503, "server busy or shutting down, try again later",
     "サーバーが混雑しているか停止処理中です。しばらくしてから再試行してください"},
    {KURA_EINTERNAL, "internal_error", 500, "internal error", "内部エラーが発生しました"},
    {KURA_ECONFIG, "bad_config", 500, "invalid configuration", "設定が正しくありません"},
    {KURA_ESYNTAX, "syntax_error", 400, "syntax error", "構文エラーです"},
    {KURA_ERANGE, "out_of_range", 400, "number out of range", "数値が範囲外です"},
    {KURA_EUTF8, "invalid_utf8", 400, "invalid UTF-8", "不正な UTF-8 です"},
    {KURA_ETOOBIG, "too_big", 413, "input exceeds its size limit",
     "入力がサイズ上限を超えています"},
    {KURA_EEXIST, "exists", 409, "already exists", "すでに存在します"},
    {KURA_ESCHEMA, "schema_too_new", 500,
     "database schema is newer than this kura binary; upgrade kura",
     "データベースのスキーマがこの kura より新しいため、kura を更新してください"},
    {KURA_EKEYMODE, "key_file_mode", 500,
     "secret file is accessible by group or others, or not owned by this user",
     "秘密鍵ファイルがグループや他者から読めるか、このユーザーの所有ではありません"},
    {KURA_ELOCKED, "data_folder_in_use", 409, "data folder is in use by another kura process",
     "データフォルダは別の kura プロセスが使用中です"},
    {KURA_ECRYPTO, "crypto_failed", 400, "cryptographic check failed", "暗号の検証に失敗しました"},
    {KURA_EUNSUPPORTED, "unsupported", 400, "format or algorithm not supported",
     "対応していない形式またはアルゴリズムです"},
    {KURA_EFORBIDDEN, "forbidden", 403, "not allowed", "許可されていません"},
    {KURA_EUNAUTH, "unauthenticated", 401, "authentication required", "認証が必要です"},
    {KURA_ENOTKURA, "not_a_data_folder", 500, "not a kura data folder",
     "kura のデータフォルダではありません"},
    {KURA_ECORRUPT, "corrupt", 500, "stored data is damaged", "保存データが破損しています"},
    {KURA_ETIMEOUT, "timeout", 408, "request took too long",
     "リクエストが時間内に完了しませんでした"},
    {KURA_EMEDIATYPE, "unsupported_media_type", 415, "unsupported media type",
     "対応していないメディアタイプです"},
    {KURA_EOVERFLOW, "overflow", 400, "size arithmetic overflow", "サイズの計算があふれました"},
    {KURA_EBUDGET, "request_too_complex", 503, "request exceeded its memory budget",
     "リクエストがメモリ上限を超えました"},
    {KURA_ENOTIMPL, "not_implemented", 501, "not implemented by this server",
     "このサーバーでは実装されていません"},
    {KURA_EAUDIT, "audit_unavailable", 503,
     "the audit log cannot be written, so the request was refused; try again later",
     "監査ログに書き込めないため、リクエストを拒否しました。しばらくしてから再試行してください"},
    {KURA_ETHROTTLED, "too_many_attempts", 429,
     "too many failed attempts; wait for the time in Retry-After before trying again",
     "失敗が続いたため受け付けを一時停止しています。Retry-After "
     "の秒数が経ってから再試行してください"},
    {KURA_ECONFLICT, "conflict", 409,
     "the request conflicts with the current state of the resource",
     "リソースの現在の状態と矛盾するため実行できません"},
    {KURA_EPRECOND, "precondition_failed", 412, "a precondition of the request is not met",
     "リクエストの前提条件が満たされていません"},
    {KURA_EDAVLOCKED, "locked", 423, "the resource is locked; send its lock token",
     "リソースはロックされています。ロックトークンを指定してください"},
    {KURA_EQUOTA, "insufficient_storage", 507, "the storage quota of this space would be exceeded",
     "この領域の容量制限を超えるため保存できません"},
    {KURA_ERANGENS, "range_not_satisfiable", 416, "the requested range is outside the file",
     "指定された範囲はファイルの外側です"},
    {KURA_EBADNAME, "bad_name", 400, "the file or folder name is not allowed",
     "このファイル名・フォルダ名は使用できません"},
    {KURA_EXML, "bad_xml", 400, "the XML body is malformed, too large, or declares a DTD or entity",
     "XML 本文が不正、大きすぎる、または DTD・実体宣言を含んでいます"},
    {KURA_EDIGEST, "checksum_mismatch", 400, "the content does not match the checksum sent with it",
     "送信された内容がチェックサムと一致しません"},
};

_Static_assert(KURA_ARRAY_SIZE(table) == (size_t)(KURA_EBADREQ - KURA_E_LAST),
               "every kura_err code needs a table entry");

static const struct err_entry *lookup(int r)
{
    if (r > KURA_EBADREQ || r <= KURA_E_LAST) {
        return NULL;
    }
    const struct err_entry *e = &table[KURA_EBADREQ - r];
    return e->code == r ? e : NULL;
}

const char *kura_strerror_lang(int r, enum kura_lang lang)
{
    const struct err_entry *e = lookup(r);
    if (e) {
        return lang == KURA_LANG_JA ? e->ja : e->en;
    }
    if (r == 0) {
        return lang == KURA_LANG_JA ? "成功" : "success";
    }
    if (r < 0 && r > -4096) {
        /* strerrordesc_np is thread-safe and locale-independent (glibc >= 2.32). */
        const char *s = strerrordesc_np(-r);
        return s ? s : "unknown system error";
    }
    return lang == KURA_LANG_JA ? "不明なエラー" : "unknown error";
}

const char *kura_strerror(int r)
{
    return kura_strerror_lang(r, KURA_LANG_EN);
}

const char *kura_err_name(int r)
{
    const struct err_entry *e = lookup(r);
    if (e) {
        return e->name;
    }
    if (r == -ENOMEM) {
        return "unavailable";
    }
    return "internal_error";
}

unsigned kura_err_http_status(int r)
{
    const struct err_entry *e = lookup(r);
    if (e) {
        return e->status;
    }
    if (r == -ENOMEM) {
        return 503;
    }
    return 500;
}

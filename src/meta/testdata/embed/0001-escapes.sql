-- backslash \ and \\ and "quotes" and 'single'
-- trigraphs ??= ??/ ??( ??) ??! ??< ??> ??- and ???
-- tab:	here, CR LF:
-- UTF-8: 日本語 ☃ 𝄞 and ü
-- octal neighbours: 1234 (DEL then digits)
-- comment closers */ /* and %s %n
SELECT 1;

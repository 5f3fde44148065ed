-- A sealed break-glass credential (identity issue item 6): when no two administrators can be
-- reached, the holder of a code printed once and kept offline (in a safe, in an envelope) can
-- enable the emergency account alone. Only its HMAC is stored; it is single use (cleared when
-- used) and enables the account for sealed_minutes.
ALTER TABLE break_glass ADD COLUMN sealed_mac BLOB CHECK (sealed_mac IS NULL OR length(sealed_mac) = 32);
ALTER TABLE break_glass ADD COLUMN sealed_minutes INTEGER CHECK (sealed_minutes IS NULL OR sealed_minutes BETWEEN 1 AND 1440);
ALTER TABLE break_glass ADD COLUMN sealed_at INTEGER;

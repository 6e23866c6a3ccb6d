// sha512-crypt (`$6$`) on Node's OpenSSL SHA-512 (issue 15).
#pragma once
#include <string>

// crypt's base-64 alphabet (`./0-9A-Za-z`), the characters of salts and hashes.
inline bool IsCryptBase64(char c) {
  return c == '.' || c == '/' || (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// Computes the `$6$` string of `key` (NUL-terminated) into `out` when `setting` is
// `$6$[rounds=N$]salt[$hash]` in the form libxcrypt writes itself: rounds, if given,
// 1000..999999999 without leading zeros; a salt of 1 to 16 characters of crypt's base 64; a hash,
// if given, of 86. Returns false, computing nothing, for every other string: those stay with
// libxcrypt.
bool Sha512Crypt(const char* key, const std::string& setting, std::string* out);

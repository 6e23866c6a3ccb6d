// sha512-crypt (`$6$`) on Node's OpenSSL SHA-512 (issue 15).
#pragma once
#include <string>

// True when `setting` is `$6$[rounds=N$]salt[$hash]` in the form libxcrypt writes itself: rounds, if
// given, 1000..999999999 without leading zeros; a salt of 1 to 16 characters of crypt's base 64; a
// hash, if given, of 86. Only those take Sha512Crypt; every other string stays with libxcrypt.
bool PlainSha512Setting(const std::string& setting);

// The `$6$` string of `key` (NUL-terminated) under a setting PlainSha512Setting accepted.
std::string Sha512Crypt(const char* key, const std::string& setting);

// sha512-crypt as specified by Ulrich Drepper ("Unix crypt using SHA-256 and SHA-512", the
// algorithm of glibc and libxcrypt), on the SHA-512 of Node's own OpenSSL, which has assembler for
// this CPU: 1.2-1.3 ms per default-rounds hash against libxcrypt's 1.8 ms measured here. Every
// intermediate holds password-derived bytes and is wiped.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sha512-crypt.h"

#include <openssl/sha.h>
#include <string.h>

namespace {

constexpr unsigned kDefaultRounds = 5000;
constexpr unsigned long kMinRounds = 1000;
constexpr unsigned long kMaxRounds = 999999999;
constexpr size_t kMaxSalt = 16;
constexpr size_t kHashChars = 86;
constexpr char kItoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

struct Parsed {
  unsigned long rounds = kDefaultRounds;
  bool customRounds = false;
  size_t saltAt = 0;
  size_t saltLen = 0;
};

bool Parse(const std::string& s, Parsed* p) {
  if (s.compare(0, 3, "$6$") != 0) return false;
  size_t i = 3;
  if (s.compare(i, 7, "rounds=") == 0) {
    i += 7;
    size_t digits = 0;
    unsigned long n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 10) n = n * 10 + (s[i++] - '0'), digits++;
    if (digits == 0 || digits > 9 || s[i - digits] == '0' || i >= s.size() || s[i] != '$') return false;
    if (n < kMinRounds || n > kMaxRounds) return false;
    p->rounds = n;
    p->customRounds = true;
    i++;
  }
  p->saltAt = i;
  while (i < s.size() && s[i] != '$') {
    if (!IsCryptBase64(s[i])) return false;
    i++;
  }
  p->saltLen = i - p->saltAt;
  if (p->saltLen == 0 || p->saltLen > kMaxSalt) return false;
  if (i == s.size()) return true;
  i++;  // the '$' after the salt
  size_t hash = s.size() - i;
  if (hash == 0) return true;
  if (hash != kHashChars) return false;
  for (; i < s.size(); i++)
    if (!IsCryptBase64(s[i])) return false;
  return true;
}

void Encode(std::string* out, unsigned b2, unsigned b1, unsigned b0, int n) {
  unsigned w = (b2 << 16) | (b1 << 8) | b0;
  while (n-- > 0) {
    out->push_back(kItoa64[w & 0x3f]);
    w >>= 6;
  }
}

// Wipes what it holds on every way out.
struct Scratch {
  SHA512_CTX ctx;
  unsigned char a[64], b[64], dp[64], ds[64];
  unsigned char p[512];  // a request field is at most 256 bytes; longer keys go to libxcrypt
  unsigned char s[kMaxSalt];
  ~Scratch() { explicit_bzero(this, sizeof *this); }
};

}  // namespace

bool Sha512Crypt(const char* key, const std::string& setting, std::string* out) {
  Parsed ps;
  if (!Parse(setting, &ps)) return false;
  const size_t kl = strlen(key);
  if (kl > sizeof(Scratch::p)) return false;
  const char* salt = setting.data() + ps.saltAt;
  const size_t sl = ps.saltLen;
  Scratch x;
  SHA512_CTX* c = &x.ctx;

  SHA512_Init(c);
  SHA512_Update(c, key, kl);
  SHA512_Update(c, salt, sl);
  SHA512_Update(c, key, kl);
  SHA512_Final(x.b, c);

  SHA512_Init(c);
  SHA512_Update(c, key, kl);
  SHA512_Update(c, salt, sl);
  size_t n;
  for (n = kl; n > 64; n -= 64) SHA512_Update(c, x.b, 64);
  SHA512_Update(c, x.b, n);
  for (n = kl; n > 0; n >>= 1) {
    if (n & 1)
      SHA512_Update(c, x.b, 64);
    else
      SHA512_Update(c, key, kl);
  }
  SHA512_Final(x.a, c);

  SHA512_Init(c);
  for (n = 0; n < kl; n++) SHA512_Update(c, key, kl);
  SHA512_Final(x.dp, c);
  for (n = 0; n < kl; n++) x.p[n] = x.dp[n % 64];

  SHA512_Init(c);
  for (n = 0; n < 16u + x.a[0]; n++) SHA512_Update(c, salt, sl);
  SHA512_Final(x.ds, c);
  for (n = 0; n < sl; n++) x.s[n] = x.ds[n];

  for (unsigned long r = 0; r < ps.rounds; r++) {
    SHA512_Init(c);
    if (r & 1)
      SHA512_Update(c, x.p, kl);
    else
      SHA512_Update(c, x.a, 64);
    if (r % 3) SHA512_Update(c, x.s, sl);
    if (r % 7) SHA512_Update(c, x.p, kl);
    if (r & 1)
      SHA512_Update(c, x.a, 64);
    else
      SHA512_Update(c, x.p, kl);
    SHA512_Final(x.a, c);
  }

  *out = "$6$";
  if (ps.customRounds) *out += "rounds=" + std::to_string(ps.rounds) + "$";
  out->append(salt, sl);
  out->push_back('$');
  const unsigned char* a = x.a;
  static constexpr unsigned char kOrder[21][3] = {
      {0, 21, 42},  {22, 43, 1},  {44, 2, 23},  {3, 24, 45},  {25, 46, 4},  {47, 5, 26},  {6, 27, 48},
      {28, 49, 7},  {50, 8, 29},  {9, 30, 51},  {31, 52, 10}, {53, 11, 32}, {12, 33, 54}, {34, 55, 13},
      {56, 14, 35}, {15, 36, 57}, {37, 58, 16}, {59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}};
  for (const auto& t : kOrder) Encode(out, a[t[0]], a[t[1]], a[t[2]], 4);
  Encode(out, 0, 0, a[63], 2);
  return true;
}

// Passwords kept encrypted in config files (TiDB-Binlog's encrypted_password), with a key the
// operator supplies. TiDB-Binlog decrypts with a key compiled into its source, so anyone can;
// here there is no default key: without one, an encrypted password is an error that says how to
// give one.
//
// The text is base64 of: a 12-byte random nonce, the AES-256-GCM ciphertext, its 16-byte tag.
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "mysql/mysql.h"

namespace binlog::mysql {

namespace {

constexpr size_t kKeyBytes = 32, kNonceBytes = 12, kTagBytes = 16;

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

Result<std::string> FromHex(std::string_view hex, std::string_view where) {
  while (!hex.empty() && (hex.back() == '\n' || hex.back() == '\r' || hex.back() == ' ')) {
    hex.remove_suffix(1);
  }
  if (hex.size() != kKeyBytes * 2) {
    return Status::InvalidArgument(fmt::format(
        "{}: a secret key is {} hex digits (32 bytes, e.g. from `openssl rand -hex 32`), got {}",
        where, kKeyBytes * 2, hex.size()));
  }
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto digit = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    int hi = digit(hex[i]), lo = digit(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument(fmt::format("{}: the secret key is not hex", where));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

}  // namespace

Result<std::string> LoadSecretKey(Env* env, const std::string& key_file) {
  if (const char* hex = std::getenv(kSecretKeyEnv); hex != nullptr && *hex != '\0') {
    return FromHex(hex, kSecretKeyEnv);
  }
  if (key_file.empty()) {
    return Status::InvalidArgument(fmt::format(
        "no secret key: set {} (64 hex digits) or give a secret-key-file", kSecretKeyEnv));
  }
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(env, key_file));
  return FromHex(text, key_file);
}

Result<std::string> EncryptPassword(std::string_view plain, const std::string& key) {
  unsigned char nonce[kNonceBytes];
  if (RAND_bytes(nonce, sizeof(nonce)) != 1) return Status::IOError("no random bytes for a nonce");
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  std::string sealed(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  std::copy(nonce, nonce + kNonceBytes, out);
  int len = 0, fin = 0;
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), out + kNonceBytes, &len,
                        reinterpret_cast<const unsigned char*>(plain.data()),
                        static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), out + kNonceBytes + len, &fin) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          out + kNonceBytes + plain.size()) != 1) {
    return Status::IOError("encrypting the password failed");
  }
  std::string b64(4 * ((sealed.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), out,
                          static_cast<int>(sealed.size()));
  b64.resize(static_cast<size_t>(n));
  return b64;
}

Result<std::string> DecryptPassword(std::string_view encrypted, const std::string& key) {
  std::string raw(3 * (encrypted.size() / 4) + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                          reinterpret_cast<const unsigned char*>(encrypted.data()),
                          static_cast<int>(encrypted.size()));
  if (n < 0 || encrypted.size() % 4 != 0) return Status::InvalidArgument("it is not base64");
  size_t padding = 0;
  for (size_t i = encrypted.size(); i > 0 && encrypted[i - 1] == '='; --i) ++padding;
  raw.resize(static_cast<size_t>(n) - padding);
  if (raw.size() < kNonceBytes + kTagBytes) return Status::InvalidArgument("it is too short");
  const auto* in = reinterpret_cast<const unsigned char*>(raw.data());
  const size_t body = raw.size() - kNonceBytes - kTagBytes;
  std::string plain(body, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int len = 0, fin = 0;
  std::string tag(raw.end() - kTagBytes, raw.end());
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(key.data()), in) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()), &len,
                        in + kNonceBytes, static_cast<int>(body)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(plain.data()) + len,
                          &fin) != 1) {
    return Status::InvalidArgument("it does not decrypt with this key (another key, or altered)");
  }
  return plain;
}

}  // namespace binlog::mysql

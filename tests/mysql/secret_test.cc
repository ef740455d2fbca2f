#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "mysql/mysql.h"
#include "testutil/testutil.h"

namespace binlog::mysql {
namespace {

const std::string kHexKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

class SecretTest : public ::testing::Test {
 protected:
  void SetUp() override { unsetenv(kSecretKeyEnv); }
  void TearDown() override { unsetenv(kSecretKeyEnv); }
  binlog::testing::TempDir tmp_;
};

TEST_F(SecretTest, APasswordDecryptsOnlyWithItsKey) {
  setenv(kSecretKeyEnv, kHexKey.c_str(), 1);
  ASSERT_OK_AND_ASSIGN(std::string key, LoadSecretKey(Env::Posix(), ""));
  ASSERT_OK_AND_ASSIGN(std::string sealed, EncryptPassword("s3cret-pässword", key));
  EXPECT_EQ(sealed.find("s3cret"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(std::string again, EncryptPassword("s3cret-pässword", key));
  EXPECT_NE(sealed, again);  // a fresh nonce each time
  ASSERT_OK_AND_ASSIGN(std::string plain, DecryptPassword(sealed, key));
  EXPECT_EQ(plain, "s3cret-pässword");
  std::string other = key;
  other[0] ^= 1;
  EXPECT_FALSE(DecryptPassword(sealed, other).ok());
  std::string altered = sealed;
  altered[20] = altered[20] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(DecryptPassword(altered, key).ok());
  EXPECT_FALSE(DecryptPassword("not base64!", key).ok());
  EXPECT_FALSE(DecryptPassword("", key).ok());
}

TEST_F(SecretTest, WithoutAKeyThereIsNoDefaultOne) {
  Result<std::string> key = LoadSecretKey(Env::Posix(), "");
  ASSERT_FALSE(key.ok());
  EXPECT_NE(key.status().message().find(kSecretKeyEnv), std::string::npos);
  setenv(kSecretKeyEnv, "abcd", 1);
  EXPECT_FALSE(LoadSecretKey(Env::Posix(), "").ok());
}

TEST_F(SecretTest, TheConfigTakesAnEncryptedPasswordWithAKeyFile) {
  const std::string key_file = tmp_.Sub("key");
  std::ofstream(key_file) << kHexKey << "\n";
  ASSERT_OK_AND_ASSIGN(std::string key, LoadSecretKey(Env::Posix(), key_file));
  ASSERT_OK_AND_ASSIGN(std::string sealed, EncryptPassword("pw", key));
  ASSERT_OK_AND_ASSIGN(
      ConfigFile f, ConfigFile::Parse("[to]\nhost = \"h\"\nencrypted_password = \"" + sealed +
                                          "\"\nsecret-key-file = \"" + key_file + "\"\n",
                                      "x.toml"));
  ConnectOptions c;
  ASSERT_OK(ReadConnectOptions(&f, "to", &c));
  EXPECT_EQ(c.password, "pw");
  // Both forms at once, or no key: errors naming the key.
  ASSERT_OK_AND_ASSIGN(ConfigFile both,
                       ConfigFile::Parse("[to]\npassword = \"a\"\nencrypted_password = \"" +
                                             sealed + "\"\n",
                                         "x.toml"));
  Status s = ReadConnectOptions(&both, "to", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("to.encrypted_password"), std::string::npos) << s.ToString();
  ASSERT_OK_AND_ASSIGN(ConfigFile nokey,
                       ConfigFile::Parse("[to]\nencrypted_password = \"" + sealed + "\"\n", "x.toml"));
  s = ReadConnectOptions(&nokey, "to", &c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("x.toml"), std::string::npos);
}

}  // namespace
}  // namespace binlog::mysql

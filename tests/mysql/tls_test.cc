// TLS against a server with a certificate of a test CA: verified, refused when the CA is not the
// server's, and never a clear-text fall back when the server offers none.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "mysql/mysql.h"
#include "testutil/mariadb_server.h"
#include "testutil/testutil.h"

namespace binlog::mysql {
namespace {

using binlog::testing::MariaDBOptions;
using binlog::testing::MariaDBServer;
using binlog::testing::SharedMariaDB;
using binlog::testing::TempDir;

ConnectOptions RootOptions(const MariaDBServer* server) {
  ConnectOptions o;
  o.host = server->host();
  o.port = server->port();
  o.connect_timeout_seconds = 5;
  return o;
}

// A CA, a server certificate it signed for 127.0.0.1, and an unrelated CA.
Status MakeCertificates(const std::string& dir) {
  std::string script = fmt::format(
      "set -e; cd '{}'; key='-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes'\n"
      "openssl req -x509 $key -days 2 -subj /CN=binlog-test-ca -keyout ca.key -out ca.pem\n"
      "openssl req -x509 $key -days 2 -subj /CN=other-ca -keyout other.key -out other.pem\n"
      "openssl req $key -subj /CN=127.0.0.1 -keyout server.key -out server.csr\n"
      "printf 'subjectAltName=IP:127.0.0.1,DNS:127.0.0.1\\n' > san.ext\n"
      "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
      "-extfile san.ext -out server.pem\n",
      dir);
  std::ofstream(dir + "/make.sh") << script;
  int rc = std::system(fmt::format("bash '{0}/make.sh' >'{0}/openssl.log' 2>&1", dir).c_str());
  if (rc != 0) {
    return Status::IOError(fmt::format("openssl failed ({}): see {}/openssl.log", rc, dir));
  }
  return Status::OK();
}

TEST(TlsTest, VerifiedConnectionAndAWrongCa) {
  TempDir certs;
  ASSERT_OK(MakeCertificates(certs.path()));
  MariaDBOptions mo;
  mo.extra_args = {"--ssl-ca=" + certs.Sub("ca.pem"), "--ssl-cert=" + certs.Sub("server.pem"),
                   "--ssl-key=" + certs.Sub("server.key")};
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<MariaDBServer> server, MariaDBServer::Start(mo));

  ConnectOptions o = RootOptions(server.get());
  o.tls.enabled = true;
  o.tls.ca = certs.Sub("ca.pem");
  o.tls.verify_server_cert = true;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Connection> c, Connection::Open(o));
  ASSERT_OK_AND_ASSIGN(std::vector<Row> rows, c->Query("SHOW SESSION STATUS LIKE 'Ssl_cipher'"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_NE(rows[0][1].value_or(""), "") << "the session is not encrypted";

  o.tls.ca = certs.Sub("other.pem");
  o.connect_attempts = 3;
  Result<std::unique_ptr<Connection>> refused = Connection::Open(o);
  ASSERT_FALSE(refused.ok()) << "a certificate of another CA was accepted";
  EXPECT_TRUE(refused.status().IsInvalidArgument()) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("(error 2026)"), std::string::npos)
      << refused.status().message();
}

// Asked for TLS, a server that has none is refused: never a silent fall back to clear text
// (Connector/C 3.3 falls back unless it verifies the certificate).
TEST(TlsTest, AServerWithoutTlsIsRefused) {
  MariaDBServer* server = SharedMariaDB();
  ASSERT_NE(server, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string have_ssl, server->QueryValue("SELECT @@have_ssl"));
  ASSERT_NE(have_ssl, "YES") << "the shared test server was expected to run without TLS";
  ConnectOptions o = RootOptions(server);
  o.tls.enabled = true;
  for (bool verify : {false, true}) {
    o.tls.verify_server_cert = verify;
    Result<std::unique_ptr<Connection>> c = Connection::Open(o);
    ASSERT_FALSE(c.ok()) << "connected in clear text (verify " << verify << ")";
    EXPECT_TRUE(c.status().IsInvalidArgument()) << c.status().ToString();
    EXPECT_NE(c.status().message().find("TLS"), std::string::npos) << c.status().message();
  }
}

}  // namespace
}  // namespace binlog::mysql

// A server's connection settings from a TOML table, as TiDB-Binlog's tools write them
// ([dest-db] for reparo, [syncer.to] for the drainer, [to] for the syncer).
#include <fmt/format.h>

#include "mysql/mysql.h"

namespace binlog::mysql {

Status ReadConnectOptions(ConfigFile* f, std::string_view table, ConnectOptions* c) {
  auto key = [&](std::string_view name) { return fmt::format("{}.{}", table, name); };
  ASSIGN_OR_RETURN(c->host, f->GetString(key("host"), c->host));
  ASSIGN_OR_RETURN(int64_t port, f->GetInt(key("port"), c->port));
  if (port < 1 || port > 65535) {
    return Status::InvalidArgument(fmt::format("{}: key \"{}\": expected a TCP port, got {}",
                                               f->origin(), key("port"), port));
  }
  c->port = static_cast<int>(port);
  ASSIGN_OR_RETURN(c->user, f->GetString(key("user"), c->user));
  ASSIGN_OR_RETURN(c->password, f->GetString(key("password"), c->password));
  ASSIGN_OR_RETURN(std::string encrypted, f->GetString(key("encrypted_password"), ""));
  ASSIGN_OR_RETURN(std::string key_file, f->GetString(key("secret-key-file"), ""));
  if (!encrypted.empty()) {
    if (f->Has(key("password")) && !c->password.empty()) {
      return Status::InvalidArgument(fmt::format(
          "{}: keys \"{}\" and \"{}\" are both set: give one", f->origin(), key("password"),
          key("encrypted_password")));
    }
    auto bad = [&](const Status& s) {
      return Status::InvalidArgument(fmt::format("{}: key \"{}\": {}", f->origin(),
                                                 key("encrypted_password"), s.message()));
    };
    Result<std::string> secret = LoadSecretKey(Env::Posix(), key_file);
    if (!secret.ok()) return bad(secret.status());
    Result<std::string> plain = DecryptPassword(encrypted, *secret);
    if (!plain.ok()) return bad(plain.status());
    c->password = *plain;
  }
  ASSIGN_OR_RETURN(c->tls.ca, f->GetString(key("ssl-ca"), c->tls.ca));
  ASSIGN_OR_RETURN(c->tls.cert, f->GetString(key("ssl-cert"), c->tls.cert));
  ASSIGN_OR_RETURN(c->tls.key, f->GetString(key("ssl-key"), c->tls.key));
  c->tls.enabled = !c->tls.ca.empty() || !c->tls.cert.empty();
  c->tls.verify_server_cert = !c->tls.ca.empty();
  return Status::OK();
}

}  // namespace binlog::mysql

// Connector/C wrapper (mysql.h): connecting with retries, statements, rows, errors.
#include <fmt/format.h>
#include <mysqld_error.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "common/logging.h"
#include "common/text.h"
#include "mysql/mysql.h"

namespace binlog::mysql {

namespace {

constexpr double kFirstBackoffSeconds = 0.5;
constexpr double kMaxBackoffSeconds = 5;
// Server texts can quote a statement ("... near '<bytes>' at line 1").
constexpr size_t kMaxServerText = 1024;

// Connector/C takes whole seconds; a fraction rounds up so a short timeout is never "none".
unsigned Seconds(double seconds) { return static_cast<unsigned>(std::ceil(seconds)); }

const char* OrNull(const std::string& s) { return s.empty() ? nullptr : s.c_str(); }

}  // namespace

Result<std::unique_ptr<Connection>> Connection::Open(const ConnectOptions& options) {
  const int attempts = std::max(1, options.connect_attempts);
  double backoff = kFirstBackoffSeconds;
  for (int attempt = 1;; ++attempt) {
    Result<std::unique_ptr<Connection>> c = OpenOnce(options);
    if (c.ok() || !c.status().IsIOError()) return c;
    if (attempt >= attempts) {
      if (attempts == 1) return c;
      return c.status().WithContext(fmt::format("{} connect attempts failed", attempts));
    }
    LOG_WARN("cannot connect; retrying", KV("error", c.status()), KV("attempt", attempt),
             KV("connect-attempts", attempts), KV("retry-in-seconds", backoff));
    std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff = std::min(backoff * 2, kMaxBackoffSeconds);
  }
}

Result<std::unique_ptr<Connection>> Connection::OpenOnce(const ConnectOptions& options) {
  MYSQL* m = mysql_init(nullptr);
  if (m == nullptr) return Status::IOError("mysql_init failed (out of memory?)");
  // Owns the handle from here: every early return closes it.
  std::unique_ptr<Connection> c(
      new Connection(m, fmt::format("{}:{}", Printable(options.host), options.port)));
  RETURN_IF_ERROR(c->SetOptions(options));
  // CLIENT_FOUND_ROWS: an UPDATE that finds its row reports it even when nothing changed, so a
  // caller can tell a missing row from an unchanged one.
  if (mysql_real_connect(m, options.host.c_str(), options.user.c_str(), options.password.c_str(),
                         OrNull(options.database), static_cast<unsigned>(options.port), nullptr,
                         CLIENT_MULTI_STATEMENTS | CLIENT_FOUND_ROWS) == nullptr) {
    return c->ConnectError(options);
  }
  // Connector/C 3.3 falls back to clear text when the server has no TLS, unless it verifies
  // the certificate: asked for TLS, a connection without it is refused here.
  if (options.tls.enabled && mysql_get_ssl_cipher(m) == nullptr) {
    return Status::InvalidArgument(
        fmt::format("connect to {} as {}: TLS is enabled but the server does not offer it (give it "
                    "ssl_cert and ssl_key, or turn TLS off for it)",
                    c->endpoint_, Printable(options.user)));
  }
  const char* version = mysql_get_server_info(m);
  c->version_ = version != nullptr ? version : "";
  for (const std::string& sql : options.init_statements) {
    Status s = c->Execute(sql);
    if (!s.ok()) {
      return s.WithContext(fmt::format("connect to {} as {}: the init statement failed",
                                       c->endpoint_, Printable(options.user)));
    }
  }
  return c;
}

Status Connection::SetOptions(const ConnectOptions& options) {
  auto set = [&](mysql_option option, const void* value, const char* name) {
    if (mysql_optionsv(mysql_, option, value) != 0) {
      return Status::InvalidArgument(
          fmt::format("Connector/C refused the option {} for {}", name, endpoint_));
    }
    return Status::OK();
  };
  // A silent reconnect would drop the session's settings and any open transaction.
  my_bool reconnect = 0;
  RETURN_IF_ERROR(set(MYSQL_OPT_RECONNECT, &reconnect, "reconnect"));
  RETURN_IF_ERROR(set(MYSQL_SET_CHARSET_NAME, "utf8mb4", "charset"));
  struct Timeout {
    double seconds;
    mysql_option option;
    const char* name;
  };
  for (const Timeout& t :
       {Timeout{options.connect_timeout_seconds, MYSQL_OPT_CONNECT_TIMEOUT, "connect timeout"},
        Timeout{options.read_timeout_seconds, MYSQL_OPT_READ_TIMEOUT, "read timeout"},
        Timeout{options.write_timeout_seconds, MYSQL_OPT_WRITE_TIMEOUT, "write timeout"}}) {
    if (t.seconds <= 0) continue;
    unsigned seconds = Seconds(t.seconds);
    RETURN_IF_ERROR(set(t.option, &seconds, t.name));
  }
  if (!options.tls.enabled) return Status::OK();
  const TlsOptions& tls = options.tls;
  if (!tls.ca.empty()) RETURN_IF_ERROR(set(MYSQL_OPT_SSL_CA, tls.ca.c_str(), "TLS CA"));
  if (!tls.cert.empty()) RETURN_IF_ERROR(set(MYSQL_OPT_SSL_CERT, tls.cert.c_str(), "TLS cert"));
  if (!tls.key.empty()) RETURN_IF_ERROR(set(MYSQL_OPT_SSL_KEY, tls.key.c_str(), "TLS key"));
  // Enforced: a server without TLS is refused, never talked to in clear text.
  my_bool enforce = 1;
  RETURN_IF_ERROR(set(MYSQL_OPT_SSL_ENFORCE, &enforce, "TLS enforce"));
  // Set either way: Connector/C 3.4 verifies by default, 3.3 does not.
  my_bool verify = tls.verify_server_cert ? 1 : 0;
  return set(MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &verify, "TLS verify-server-cert");
}

Status Connection::ConnectError(const ConnectOptions& options) {
  last_errno_ = mysql_errno(mysql_);
  std::string user = Printable(options.user);
  std::string msg = fmt::format("connect to {} as {}: {} (error {})", endpoint_, user,
                                Printable(mysql_error(mysql_), kMaxServerText), last_errno_);
  switch (last_errno_) {
    case ER_ACCESS_DENIED_ERROR:
      return Status::InvalidArgument(
          msg + fmt::format("; check the user {} and its password, and the hosts it may "
                            "connect from",
                            user));
    case ER_DBACCESS_DENIED_ERROR:
      return Status::InvalidArgument(msg + fmt::format("; grant {} access to the database {}", user,
                                                       Printable(options.database)));
    case ER_HOST_NOT_PRIVILEGED:
      return Status::InvalidArgument(
          msg + fmt::format("; the user {} may not connect from this host", user));
    default:
      return Classify(std::move(msg));
  }
}

Status Connection::Classify(std::string message) const {
  return IsTransientError(last_errno_) ? Status::IOError(message)
                                       : Status::InvalidArgument(message);
}

Status Connection::Fail(std::string_view sql) {
  last_errno_ = mysql_errno(mysql_);
  return Classify(fmt::format("{}: {} (error {}) in: {}", endpoint_,
                              Printable(mysql_error(mysql_), kMaxServerText), last_errno_,
                              ElideStatement(sql)));
}

Status Connection::Error(std::string_view what) {
  last_errno_ = mysql_errno(mysql_);
  return Classify(fmt::format("{} on {}: {} (error {})", what, endpoint_,
                              Printable(mysql_error(mysql_), kMaxServerText), last_errno_));
}

Connection::~Connection() { mysql_close(mysql_); }

Status Connection::Execute(std::string_view sql) { return Execute(sql, nullptr); }

Status Connection::Execute(std::string_view sql, std::vector<uint64_t>* affected) {
  last_errno_ = 0;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return Fail(sql);
  // Every result of a multi-statement is read: one left unread makes the next call fail with
  // "commands out of sync". The server stops at the first statement that fails.
  while (true) {
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res != nullptr) {
      mysql_free_result(res);
    } else if (mysql_field_count(mysql_) != 0) {
      return Fail(sql);  // a result set that could not be read
    }
    affected_rows_ = mysql_affected_rows(mysql_);
    if (affected != nullptr) affected->push_back(affected_rows_);
    int more = mysql_next_result(mysql_);
    if (more < 0) return Status::OK();
    if (more > 0) return Fail(sql);
  }
}

Result<std::vector<Row>> Connection::Query(std::string_view sql) {
  last_errno_ = 0;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) return Fail(sql);
  std::vector<Row> rows;
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) {
    if (mysql_field_count(mysql_) != 0) return Fail(sql);
  } else {
    const unsigned n = mysql_num_fields(res);
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      const unsigned long* lengths = mysql_fetch_lengths(res);
      Row& out = rows.emplace_back();
      out.reserve(n);
      for (unsigned i = 0; i < n; ++i) {
        if (row[i] == nullptr) {
          out.emplace_back(std::nullopt);
        } else {
          out.emplace_back(std::string(row[i], lengths[i]));
        }
      }
    }
    mysql_free_result(res);
  }
  RETURN_IF_ERROR(DrainResults(sql));
  return rows;
}

Status Connection::DrainResults(std::string_view sql) {
  while (true) {
    int more = mysql_next_result(mysql_);
    if (more < 0) return Status::OK();
    if (more > 0) return Fail(sql);
    MYSQL_RES* res = mysql_store_result(mysql_);
    if (res != nullptr) {
      mysql_free_result(res);
    } else if (mysql_field_count(mysql_) != 0) {
      return Fail(sql);
    }
  }
}

std::string Connection::Escape(std::string_view text) const {
  std::string out(text.size() * 2 + 1, '\0');
  unsigned long n = mysql_real_escape_string(mysql_, out.data(), text.data(), text.size());
  out.resize(n);
  return out;
}

}  // namespace binlog::mysql

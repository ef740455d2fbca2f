// The decoder fuzzer's seed corpus, testdata/fuzz/decoder/: real MariaDB replication streams, one
// file per workload step below, in the fuzzer's input format (tests/fuzz/decoder_input.h).
//
// Regenerate it (a few seconds: a private server runs the steps) and commit what it writes; it
// replaces the *.bin files there (without the variable Generate writes to a temporary directory
// and checks what it wrote):
//   BINLOG_FUZZ_CORPUS_OUT=$PWD/testdata/fuzz/decoder build/tests/syncer_test
//     --gtest_filter='DecoderCorpus.Generate'   (one command line)
//
// SeedsDecode checks the committed seeds on every run: a seed the decoder stopped reading early
// would leave the fuzzer exploring one error path instead of the row decoding behind it.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/env.h"
#include "fuzz/decoder_input.h"
#include "syncer/event.h"
#include "syncer/syncer_test_util.h"
#include "syncer/upstream.h"

namespace binlog::syncer::testing {
namespace {

using fuzz::DecoderInput;

struct Step {
  std::string name;
  std::string sql;         // statements run on one connection (database fz), separated by ';'
  bool gtid = false;       // the dump starts from a GTID state instead of a file and position
  bool heartbeat = false;  // read on until the server's first heartbeat
};
// A step whose name has "-refused" makes a stream the decoder refuses (XA, a statement-logged
// INSERT): its seed goes on to the end of the refused events.

std::string Repeat(std::string_view pattern, int n, std::string_view sep) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += sep;
    out += fmt::format(fmt::runtime(pattern), i);
  }
  return out;
}

std::vector<Step> Steps() {
  std::vector<Step> s;
  s.push_back({"integers",
               "CREATE TABLE ints (id INT PRIMARY KEY, t TINYINT, ut TINYINT UNSIGNED, s SMALLINT, "
               "us SMALLINT UNSIGNED, m MEDIUMINT, um MEDIUMINT UNSIGNED, i INT, ui INT UNSIGNED, "
               "b BIGINT, ub BIGINT UNSIGNED, y YEAR);"
               "INSERT INTO ints VALUES (1, -128, 255, -32768, 65535, -8388608, 16777215, "
               "-2147483648, 4294967295, -9223372036854775808, 18446744073709551615, 1901), "
               "(2, 127, 0, 32767, 0, 8388607, 0, 2147483647, 0, 9223372036854775807, 0, 2155), "
               "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
               "(4, 0, 1, -1, 1, -1, 1, -1, 1, -1, 1, 0);"
               "UPDATE ints SET t = t - 1, b = -b - 1 WHERE id IN (2, 4);"
               "UPDATE ints SET t = 5, y = 2024 WHERE id = 3;"
               "DELETE FROM ints WHERE id = 1"});
  s.push_back({"decimal-float",
               "CREATE TABLE decs (id INT PRIMARY KEY, d1 DECIMAL(10,2), d2 DECIMAL(65,30), "
               "d3 DECIMAL(20,10) UNSIGNED, d4 DECIMAL(5,0), d5 DECIMAL(18,9), d6 DECIMAL(9,9), "
               "d7 DECIMAL(65,0), f FLOAT, fu FLOAT UNSIGNED, d DOUBLE, dd DOUBLE(10,3));"
               "INSERT INTO decs VALUES (1, -12.34, "
               "12345678901234567890123456789012345.123456789012345678901234567891, "
               "1234567890.0123456789, -99999, 123456789.123456789, 0.999999999, -" +
                   std::string(65, '9') +
                   ", -3.4e38, 1.5, 2.718281828459045, -1234567.125), "
                   "(2, 0, 0, 0, 0, -0.000000001, -0.5, 1, 0, 0, 0, 0), "
                   "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
                   "UPDATE decs SET d1 = -d1, d = d / 3, d6 = 0.000000001 WHERE id = 1"});
  s.push_back({"bit-enum-set",
               "CREATE TABLE bes (id INT PRIMARY KEY, b1 BIT(1), b7 BIT(7), b9 BIT(9), "
               "b64 BIT(64), e ENUM('a','b','ç''s'), e2 ENUM(" +
                   Repeat("'v{}'", 300, ",") + "), st SET('x','y','z'), s64 SET(" +
                   Repeat("'m{}'", 64, ",") +
                   "), el ENUM('é','ü') CHARACTER SET latin1, "
                   "sl SET('à','ö') CHARACTER SET latin1);"
                   "INSERT INTO bes VALUES (1, b'1', b'1010101', b'100000001', "
                   "b'1111111111111111111111111111111111111111111111111111111111111111', "
                   "'ç''s', 'v299', 'x,z', 'm0,m63', 'é', 'à,ö'), "
                   "(2, 0, 0, 0, 0, 'a', 'v0', '', '', 'ü', ''), "
                   "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
                   "UPDATE bes SET e = 'b', st = 'y', b9 = b'111' WHERE id = 2"});
  s.push_back({"strings",
               "CREATE TABLE strs (id INT PRIMARY KEY, c10 CHAR(10), c100 CHAR(100), "
               "v300 VARCHAR(300), vl VARCHAR(20) CHARACTER SET latin1, "
               "va VARCHAR(20) CHARACTER SET ascii, v3 VARCHAR(20) CHARACTER SET utf8mb3, "
               "bin4 BINARY(4), vb VARBINARY(300), `名前` VARCHAR(10), "
               "cl CHAR(5) CHARACTER SET latin1) DEFAULT CHARSET = utf8mb4;"
               "INSERT INTO strs VALUES (1, 'héllo', REPEAT('ä', 100), REPEAT('x', 300), "
               "'café', 'plain', 'ß', 'ab', REPEAT(x'00ff', 150), '名前', 'ü'), "
               "(2, '', '', '', '', '', '', '', '', '', ''), "
               "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
               "(4, '😀', 'pad   ', 'é', 'ÿ', '~', '€', x'00000000', x'', 'x', 'a');"
               "UPDATE strs SET id = 10, v300 = 'changed' WHERE id = 4;"
               "CREATE TABLE `tablé` (id INT PRIMARY KEY, `colé` INT);"
               "INSERT INTO `tablé` VALUES (1, 1)"});
  s.push_back({"blobs",
               "CREATE TABLE blobs (id INT PRIMARY KEY, tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, "
               "lt LONGTEXT, tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB, "
               "lat TEXT CHARACTER SET latin1);"
               "INSERT INTO blobs VALUES (1, 'tiny', REPEAT('t', 300), REPEAT('m', 1000), "
               "REPEAT('l', 2000), x'00', REPEAT(x'01', 300), REPEAT(x'02', 70), "
               "REPEAT(x'ab', 20000), 'é'), (2, '', '', '', '', '', '', '', '', ''), "
               "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);"
               "UPDATE blobs SET tt = 'changed' WHERE id = 2;"
               "DELETE FROM blobs WHERE id = 3"});
  s.push_back({"json-geometry",
               "CREATE TABLE jg (id INT PRIMARY KEY, j JSON, g GEOMETRY, p POINT, l LINESTRING, "
               "pg POLYGON, mp MULTIPOINT, gc GEOMETRYCOLLECTION);"
               "INSERT INTO jg VALUES (1, '{\"a\": [1, 2.5, \"x\", null, true], \"b\": {\"c\": "
               "\"é\"}}', ST_GeomFromText('POINT(1 2)'), POINT(3, 4), "
               "ST_GeomFromText('LINESTRING(0 0, 1 1, 2 2)'), "
               "ST_GeomFromText('POLYGON((0 0, 1 0, 1 1, 0 0))'), "
               "ST_GeomFromText('MULTIPOINT(1 1, 2 2)'), "
               "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))')), "
               "(2, '[]', NULL, NULL, NULL, NULL, NULL, NULL);"
               "UPDATE jg SET j = JSON_SET(j, '$.b.c', 'new') WHERE id = 1"});
  s.push_back({"temporal",
               "SET SESSION sql_mode = '', time_zone = '+00:00';"
               "CREATE TABLE temps (id INT PRIMARY KEY, d DATE, dt DATETIME, dt1 DATETIME(1), "
               "dt3 DATETIME(3), dt6 DATETIME(6), t TIME, t1 TIME(1), t2 TIME(2), t3 TIME(3), "
               "t4 TIME(4), t6 TIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, "
               "ts6 TIMESTAMP(6) NULL);"
               "INSERT INTO temps VALUES (1, '2024-02-29', '2024-02-29 23:59:59', "
               "'1000-01-01 00:00:00.1', '9999-12-31 23:59:59.999', "
               "'2024-02-29 23:59:59.999999', '-838:59:59', '-00:00:00.5', '-12:34:56.78', "
               "'838:59:59.999', '-01:00:00.0001', '-838:59:58.999999', '1970-01-01 00:00:01', "
               "'2038-01-19 03:14:07.999', '2024-06-01 12:00:00.000001'), "
               "(2, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', "
               "'0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000000', '00:00:00', '00:00:00.0', "
               "'00:00:00.00', '00:00:00.000', '00:00:00.0000', '00:00:00.000000', "
               "'0000-00-00 00:00:00', '0000-00-00 00:00:00', '0000-00-00 00:00:00'), "
               "(3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
               "NULL);"
               "UPDATE temps SET t1 = '-00:00:01.5', ts6 = '2001-02-03 04:05:06.7' WHERE id = 1"});
  // MariaDB 5.3's TIME/DATETIME/TIMESTAMP layouts (no fractions: with them the syncer refuses).
  s.push_back({"old-temporal",
               "SET GLOBAL mysql56_temporal_format = OFF;"
               "CREATE TABLE oldt (id INT PRIMARY KEY, t TIME, dt DATETIME, ts TIMESTAMP NULL);"
               "SET GLOBAL mysql56_temporal_format = ON;"
               "SET SESSION time_zone = '+00:00';"
               "INSERT INTO oldt VALUES (1, '-12:34:56', '2024-02-29 23:59:59', "
               "'2024-01-01 00:00:00'), (2, NULL, NULL, NULL)"});
  s.push_back({"mariadb-types",
               "CREATE TABLE mtypes (id INT PRIMARY KEY, ip INET6, u UUID, ip4 INET4);"
               "INSERT INTO mtypes VALUES (1, '::1', '123e4567-e89b-12d3-a456-426655440000', "
               "'127.0.0.1'), (2, NULL, NULL, NULL)"});
  // More than 250 columns: the column count takes a 3-byte length-encoded integer.
  s.push_back({"wide-table", "CREATE TABLE wide (id INT PRIMARY KEY, " +
                                 Repeat("c{} INT", 259, ", ") + ");" +
                                 "INSERT INTO wide (id, c0, c100, c258) VALUES (1, 1, 100, 258);"
                                 "UPDATE wide SET c200 = 200 WHERE id = 1"});
  s.push_back({"partial-images",
               "SET SESSION binlog_row_image = MINIMAL;"
               "INSERT INTO ints (id, t) VALUES (100, 1);"
               "UPDATE ints SET t = 2 WHERE id = 100;"
               "DELETE FROM ints WHERE id = 100;"
               "SET SESSION binlog_row_image = NOBLOB;"
               "UPDATE blobs SET tt = 'noblob' WHERE id = 2;"
               "INSERT INTO blobs (id, tt) VALUES (5, 'x');"
               "DELETE FROM blobs WHERE id = 5"});
  s.push_back({"multi-table-transaction",
               "BEGIN; INSERT INTO ints (id, t) VALUES (200, 1);"
               "INSERT INTO strs (id, c10) VALUES (200, 'x');"
               "UPDATE ints SET t = 3 WHERE id = 200; DELETE FROM strs WHERE id = 200;"
               "INSERT INTO decs (id) VALUES (200); COMMIT"});
  s.push_back({"non-transactional",
               "CREATE TABLE myi (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE = MyISAM;"
               "CREATE TABLE ari (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE = Aria;"
               "INSERT INTO myi VALUES (1, 'a'); INSERT INTO ari VALUES (1, 'a');"
               "BEGIN; INSERT INTO ints (id) VALUES (400); INSERT INTO myi VALUES (2, 'b');"
               "ROLLBACK"});
  s.push_back({"savepoints",
               "BEGIN; INSERT INTO ints (id) VALUES (300); SAVEPOINT s1;"
               "INSERT INTO ints (id) VALUES (301); INSERT INTO myi VALUES (301, 'n');"
               "ROLLBACK TO SAVEPOINT s1; INSERT INTO ints (id) VALUES (302); COMMIT"});
  // Statement-based events in a ROW server: User_var, Rand and Intvar before the query, which
  // the decoder refuses (a data change logged as a statement).
  s.push_back({"statement-events-refused",
               "CREATE TABLE auto_t (id INT AUTO_INCREMENT PRIMARY KEY, x DOUBLE) ENGINE = MyISAM;"
               "SET SESSION binlog_format = STATEMENT; SET @v = 5;"
               "INSERT INTO auto_t (x) VALUES (@v); INSERT INTO auto_t (x) VALUES (RAND(1));"
               "INSERT INTO auto_t (x) VALUES (LAST_INSERT_ID())"});
  s.push_back({"ddl",
               "ALTER TABLE ints ADD COLUMN extra VARCHAR(10) DEFAULT 'd';"
               "INSERT INTO ints (id, extra) VALUES (500, 'after');"
               "RENAME TABLE ari TO ari2; TRUNCATE TABLE myi;"
               "CREATE VIEW v_ints AS SELECT id, t FROM ints; DROP VIEW v_ints;"
               "CREATE USER 'fz_user'@'localhost' IDENTIFIED BY 'pw';"
               "GRANT SELECT ON fz.* TO 'fz_user'@'localhost'; DROP USER 'fz_user'@'localhost';"
               "CREATE DATABASE fz2; CREATE TABLE fz2.other (id INT PRIMARY KEY);"
               "DROP DATABASE fz2; CREATE TABLE tmp_drop (id INT); DROP TABLE tmp_drop"});
  s.push_back({"compressed",
               "SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10;"
               "INSERT INTO blobs (id, tt, tx) VALUES (10, 'compressed row', REPEAT('z', 3000));"
               "UPDATE blobs SET tt = 'compressed update' WHERE id = 10;"
               "DELETE FROM blobs WHERE id = 10;"
               "CREATE TABLE comp_ddl (id INT PRIMARY KEY, note VARCHAR(100) DEFAULT "
               "'a default long enough to be compressed');"
               "SET GLOBAL log_bin_compress = OFF"});
  s.push_back({"rotation",
               "INSERT INTO ints (id) VALUES (600); FLUSH BINARY LOGS;"
               "INSERT INTO ints (id) VALUES (601)"});
  // Files without checksums between two with: each file's format description says which.
  s.push_back({"checksum-off",
               "SET GLOBAL binlog_checksum = NONE; INSERT INTO ints (id) VALUES (700);"
               "UPDATE ints SET t = 7 WHERE id = 700; SET GLOBAL binlog_checksum = CRC32;"
               "INSERT INTO ints (id) VALUES (701)"});
  s.push_back({"gtid-start",
               "INSERT INTO ints (id) VALUES (800); UPDATE ints SET t = 8 WHERE id = 800",
               /*gtid=*/true});
  s.push_back({"heartbeat", "INSERT INTO ints (id) VALUES (900)", false, /*heartbeat=*/true});
  s.push_back({"many-rows",
               "INSERT INTO ints (id, t, b) SELECT seq + 2000, seq % 100, seq * 1000 "
               "FROM seq_1_to_120;"
               "UPDATE ints SET b = b + 1 WHERE id > 2000; DELETE FROM ints WHERE id > 2000"});
  s.push_back({"xa-refused",
               "INSERT INTO ints (id) VALUES (999); XA START 'fzx'; "
               "INSERT INTO ints (id) VALUES (1000); XA END 'fzx'; XA PREPARE 'fzx'; "
               "XA COMMIT 'fzx'"});
  return s;
}

// The events the server sends from `from` until the one that ends at `end` (and, with
// `heartbeat`, the first heartbeat after it), as the decoder receives them.
Result<DecoderInput> Capture(MariaDBServer* server, const BinlogPosition& from,
                             const BinlogPosition& end, bool heartbeat) {
  ASSIGN_OR_RETURN(auto up, Upstream::Connect(ReplicaOptions(server, 4243)));
  RETURN_IF_ERROR(up->StartDump(from));
  DecoderInput out;
  out.checksum = up->info().checksum;
  bool checksum = out.checksum;
  std::string file;
  bool reached = false;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (true) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut(
          fmt::format("{} events read, {} not reached", out.events.size(), end.ToString()));
    }
    ASSIGN_OR_RETURN(std::string_view raw, up->Fetch());
    out.events.emplace_back(raw);
    if (raw.size() > 4 && static_cast<uint8_t>(raw[4]) == kFormatDescriptionEvent) {
      ASSIGN_OR_RETURN(FormatDescription fd, ParseFormatDescription(raw));
      checksum = fd.checksum;
      continue;
    }
    ASSIGN_OR_RETURN(Event ev, ParseEvent(raw, checksum));
    const EventHeader& h = ev.header;
    if (h.type == kRotateEvent) {
      ASSIGN_OR_RETURN(RotateEvent r, ParseRotate(ev));
      file = r.file;
    } else if (h.type == kHeartbeatEvent) {
      if (reached) break;
    } else if ((h.flags & kArtificialFlag) == 0 && file == end.name && h.log_pos >= end.pos) {
      reached = true;
      if (!heartbeat) break;
    }
  }
  return out;
}

// An event like `like` (its header's time, server id and position) with another type and body,
// and a CRC32 placeholder when `checksum`: the fuzz input's control bit fixes size and CRC.
std::string Rebuilt(const std::string& like, uint8_t type, std::string_view body, bool checksum) {
  std::string ev = like.substr(0, kEventHeaderLen);
  ev[4] = static_cast<char>(type);
  ev.append(body);
  if (checksum) ev.append(kChecksumLen, '\0');
  return ev;
}

// The same stream as MySQL writes it: version 2 row events (with an extra-data header) and a
// MySQL GTID event plus a BEGIN query where MariaDB has its GTID event. MariaDB never sends
// these; the decoder reads both.
DecoderInput AsMysql(const DecoderInput& in) {
  DecoderInput out;
  out.checksum = in.checksum;
  bool checksum = in.checksum;
  uint64_t gno = 1;
  for (const std::string& raw : in.events) {
    auto type = static_cast<uint8_t>(raw[4]);
    if (type == kFormatDescriptionEvent) checksum = raw[raw.size() - 5] == 1;
    if (type >= kWriteRowsV1 && type <= kDeleteRowsV1) {
      std::string ev = raw;
      ev.insert(kEventHeaderLen + 8, std::string("\x02\x00", 2));
      ev[4] = static_cast<char>(type + (kWriteRowsV2 - kWriteRowsV1));
      out.events.push_back(std::move(ev));
    } else if (type == kGtidEvent) {
      // Commit flag, source uuid, gno, then MySQL 5.7's logical clock (type, two ints).
      std::string gtid = "\x01" + std::string(
                                      "\x3e\x11\xfa\x47\x71\xca\x11\xe1"
                                      "\x9e\x33\xc8\x0a\xa9\x42\x95\x62",
                                      16);
      for (int i = 0; i < 8; ++i) gtid += static_cast<char>(gno >> (8 * i));
      gtid += "\x02" + std::string(16, '\0');
      gno++;
      // Thread id, exec time, database length, error code, status length; "", "BEGIN".
      std::string begin = std::string(13, '\0') + std::string(1, '\0') + "BEGIN";
      out.events.push_back(Rebuilt(raw, kMysqlGtidEvent, gtid, checksum));
      out.events.push_back(Rebuilt(raw, kQueryEvent, begin, checksum));
    } else {
      out.events.push_back(raw);
    }
  }
  return out;
}

Status WriteSeed(const std::string& path, const DecoderInput& in, size_t* total) {
  std::string bytes = fuzz::EncodeDecoderInput(in);
  std::ofstream file(path, std::ios::binary);
  file << bytes;
  if (!file.flush().good()) return Status::IOError("cannot write " + path);
  *total += bytes.size();
  printf("%s: %zu events, %zu bytes\n", path.c_str(), in.events.size(), bytes.size());
  return Status::OK();
}

std::vector<std::string> SeedFiles(const std::string& dir) {
  std::vector<std::string> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".bin") out.push_back(entry.path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// A seed decodes as the fuzzer feeds it, into records protobuf itself would write; a seed named
// *-refused* is refused, at its end.
void ExpectSeedDecodes(const std::string& path) {
  SCOPED_TRACE(path);
  ASSERT_OK_AND_ASSIGN(std::string bytes, ReadFileToString(Env::Posix(), path));
  DecoderInput in = fuzz::SplitDecoderInput(bytes);
  StreamDecoder decoder(BinlogPosition{"mariadb-bin.000001", 4, ""}, in.checksum, 0, 1);
  bool refused = path.find("-refused") != std::string::npos;
  size_t transactions = 0;
  Status s;
  std::vector<StreamItem> items;
  for (const std::string& ev : in.events) {
    items.clear();
    s = decoder.Feed(ev, 1700000000000, &items);
    for (const StreamItem& item : items) {
      if (item.kind != StreamItem::kTransaction) continue;
      ParseItem(item);
      transactions++;
    }
    if (!s.ok()) break;
  }
  EXPECT_GT(transactions, 0u);
  if (refused) {
    EXPECT_FALSE(s.ok()) << "the decoder took a stream it should refuse";
  } else {
    EXPECT_OK(s);
  }
}

// Runs each step on a private server and writes its stream to dir/NN-name.bin.
TEST(DecoderCorpus, Generate) {
  binlog::testing::TempDir scratch;
  const char* out = getenv("BINLOG_FUZZ_CORPUS_OUT");
  const std::string dir = out != nullptr && *out != '\0' ? out : scratch.path();
  std::filesystem::create_directories(dir);
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".bin") std::filesystem::remove(entry.path());
  }
  // Small row events: a statement's rows span several, the last flagged.
  binlog::testing::MariaDBOptions options;
  options.extra_args = {"--binlog-row-event-max-size=1024"};
  ASSERT_OK_AND_ASSIGN(auto server, MariaDBServer::Start(options));
  ASSERT_OK(server->Exec("CREATE DATABASE fz DEFAULT CHARSET = utf8mb4"));
  std::vector<Step> steps = Steps();
  size_t total = 0;
  for (size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    SCOPED_TRACE(step.name);
    BinlogPosition from = EndOfBinlog(server.get());
    if (step.gtid) {
      ASSERT_OK_AND_ASSIGN(from.gtid, server->QueryValue("SELECT @@global.gtid_binlog_pos"));
      from.name.clear();
      from.pos = 0;
    }
    {
      ASSERT_OK_AND_ASSIGN(auto conn, server->Connect("fz"));
      ASSERT_OK(conn->Exec(step.sql));
    }
    BinlogPosition end = EndOfBinlog(server.get());
    ASSERT_OK_AND_ASSIGN(DecoderInput in, Capture(server.get(), from, end, step.heartbeat));
    ASSERT_OK(WriteSeed(fmt::format("{}/{:02}-{}.bin", dir, i, step.name), in, &total));
    if (i == 0) {
      ASSERT_OK(WriteSeed(fmt::format("{}/{:02}-{}-as-mysql.bin", dir, steps.size(), step.name),
                          AsMysql(in), &total));
    }
  }
  printf("%zu bytes in all\n", total);
  std::vector<std::string> written = SeedFiles(dir);
  EXPECT_EQ(written.size(), steps.size() + 1);
  for (const std::string& path : written) ExpectSeedDecodes(path);
}

TEST(DecoderCorpus, SeedsDecode) {
  std::vector<std::string> files = SeedFiles(binlog::testing::TestDataPath("fuzz/decoder"));
  ASSERT_GE(files.size(), 20u) << "the seed corpus is missing";
  for (const std::string& path : files) ExpectSeedDecodes(path);
}

}  // namespace
}  // namespace binlog::syncer::testing

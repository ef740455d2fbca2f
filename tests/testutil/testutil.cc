#include "testutil/testutil.h"

#include <stdlib.h>

#include <filesystem>

namespace binlog::testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/binlog-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << tmpl;
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (getenv("BINLOG_KEEP_TMP") != nullptr) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ToolPath(const std::string& name) {
  const char* dir = getenv("BINLOG_TOOLS_DIR");
#ifdef BINLOG_BINARY_DIR
  std::string base = dir && *dir ? dir : std::string(BINLOG_BINARY_DIR) + "/tools";
#else
  std::string base = dir && *dir ? dir : "tools";
#endif
  return base + "/" + name + "/" + name;
}

std::string TestDataPath(const std::string& name) {
#ifdef BINLOG_SOURCE_DIR
  return std::string(BINLOG_SOURCE_DIR) + "/testdata/" + name;
#else
  return "testdata/" + name;
#endif
}

}  // namespace binlog::testing

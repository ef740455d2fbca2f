#include "common/text.h"

#include <gtest/gtest.h>

namespace binlog {
namespace {

TEST(TextTest, Utf8SequencesAreCheckedWhole) {
  EXPECT_TRUE(IsValidUtf8("plain ascii text, long enough to take the 8-byte path"));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc3"));              // cut short
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(IsValidUtf8("12345678\xff"));      // after the 8-byte path
  EXPECT_EQ(Utf8SequenceLength("\xe4\xb8\xad", 0), 3u);
  EXPECT_EQ(Utf8SequenceLength("a\x80", 1), 0u);
}

TEST(TextTest, PrintableEscapesControlsAndBadBytesAndBoundsTheLength) {
  EXPECT_EQ(Printable("DROP TABLE `t`;"), "DROP TABLE `t`;");
  EXPECT_EQ(Printable("caf\xc3\xa9"), "caf\xc3\xa9");  // UTF-8 stays readable
  EXPECT_EQ(Printable(std::string("a\0b\x1b[2J\n\x7f\\", 10)), "a\\x00b\\x1b[2J\\x0a\\x7f\\\\");
  EXPECT_EQ(Printable("\xc2\x85"), "\\xc2\\x85");  // a C1 control
  EXPECT_EQ(Printable("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(Printable(std::string(100, 'x'), 10), "xxxxxxxxxx... (100 bytes in all)");
}

}  // namespace
}  // namespace binlog

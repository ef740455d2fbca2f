#include "common/flags.h"

#include <exception>
#include <sstream>

namespace binlog {

namespace po = boost::program_options;

Result<po::variables_map> ParseGoFlags(int argc, const char* const* argv,
                                       const po::options_description& options,
                                       const po::positional_options_description& positional) {
  po::variables_map vm;
  try {
    const auto style =
        (po::command_line_style::default_style & ~po::command_line_style::allow_guessing) |
        po::command_line_style::allow_long_disguise;
    po::store(
        po::command_line_parser(argc, argv).options(options).positional(positional).style(style).run(),
        vm);
    po::notify(vm);
  } catch (const std::exception& e) {
    return Status::InvalidArgument(e.what());
  }
  return vm;
}

std::string GoFlagsUsage(std::string_view head, const po::options_description& options) {
  std::ostringstream out;
  out << options;
  std::string text = "\n" + out.str();  // every option line now follows a newline
  for (size_t at = text.find("\n  --"); at != std::string::npos; at = text.find("\n  --", at)) {
    text.replace(at, 5, "\n   -");
  }
  return std::string(head) + text;
}

void AddStandardFlags(boost::program_options::options_description* options) {
  namespace po = boost::program_options;
  auto add = options->add_options();
  add("L", po::value<std::string>(), "log level: debug, info, warn, error, fatal (default info)");
  add("log-file", po::value<std::string>(), "log file path (default: stderr)");
  add("V", "print the version and exit");
  add("version", "print the version and exit");
  add("h", "print this help and exit");
  add("help", "print this help and exit");
}

}  // namespace binlog

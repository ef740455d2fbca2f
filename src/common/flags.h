// Command lines as TiDB-Binlog's tools take them: Go's flag package reads -name and --name alike
// and never guesses a prefix ("-data" is not -data-dir). Shared by every tool.
#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <string_view>

#include "common/status.h"

namespace binlog {

// Parses argv against `options`; arguments that are not flags only as `positional` takes them
// (by default none: a stray word is an error). A bad command line is InvalidArgument with
// boost's message.
Result<boost::program_options::variables_map> ParseGoFlags(
    int argc, const char* const* argv, const boost::program_options::options_description& options,
    const boost::program_options::positional_options_description& positional = {});

// The flags every tool takes alike: -L (log level), -log-file, -V/-version, -h/-help.
void AddStandardFlags(boost::program_options::options_description* options);

// `head`, a newline, then the options shown the Go way (-name), as operators of TiDB-Binlog know
// them.
std::string GoFlagsUsage(std::string_view head,
                         const boost::program_options::options_description& options);

}  // namespace binlog

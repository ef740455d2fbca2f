// The replay engine (replay.h).
#include "replay/replay.h"

// Connector/C wrapper (mysql.h); implementation to come.
#include "mysql/mysql.h"

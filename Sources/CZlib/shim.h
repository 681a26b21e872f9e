/* zlib, from Debian's zlib1g-dev, for gzip-compressing pprof profiles. */
#include <zlib.h>

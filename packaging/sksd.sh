#!/bin/sh
# /usr/bin/sksd: runs sksd with the system's Node.js. The interpreter is named, not looked up in
# PATH, so that a conda environment with its own (older) nodejs on a user's PATH does not run it.
exec /usr/bin/node /usr/lib/sksd/dist/cli.js "$@"

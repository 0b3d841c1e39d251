package hostfs

import "syscall"

// syscallNoFollow makes an open fail on a symbolic link, closing the gap
// between ReadFile's type check and its open.
const syscallNoFollow = syscall.O_NOFOLLOW

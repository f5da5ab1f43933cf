//! Names of the numbers the kernel uses, as `syscall_name()`, `signal_name()`,
//! `strerror()` and printf's `%gr` (allocation flags) print them. System calls are x86-64's: the native calls and the x32 calls
//! numbered 512 to 547. Generated from the kernel's UAPI headers
//! (`asm/unistd_64.h` and `asm/unistd_x32.h` of Linux 6.1) plus the calls added up to Linux
//! 6.17 (`uretprobe`, 335; 451 to 469); a number missing here is printed as "Unknown syscall".
//! The errno messages are the comments of the kernel's `asm-generic/errno-base.h` and
//! `asm-generic/errno.h`.

/// `(number, name)`, sorted by number.
pub const SYSCALLS: &[(u32, &str)] = &[
    (0, "read"),
    (1, "write"),
    (2, "open"),
    (3, "close"),
    (4, "stat"),
    (5, "fstat"),
    (6, "lstat"),
    (7, "poll"),
    (8, "lseek"),
    (9, "mmap"),
    (10, "mprotect"),
    (11, "munmap"),
    (12, "brk"),
    (13, "rt_sigaction"),
    (14, "rt_sigprocmask"),
    (15, "rt_sigreturn"),
    (16, "ioctl"),
    (17, "pread64"),
    (18, "pwrite64"),
    (19, "readv"),
    (20, "writev"),
    (21, "access"),
    (22, "pipe"),
    (23, "select"),
    (24, "sched_yield"),
    (25, "mremap"),
    (26, "msync"),
    (27, "mincore"),
    (28, "madvise"),
    (29, "shmget"),
    (30, "shmat"),
    (31, "shmctl"),
    (32, "dup"),
    (33, "dup2"),
    (34, "pause"),
    (35, "nanosleep"),
    (36, "getitimer"),
    (37, "alarm"),
    (38, "setitimer"),
    (39, "getpid"),
    (40, "sendfile"),
    (41, "socket"),
    (42, "connect"),
    (43, "accept"),
    (44, "sendto"),
    (45, "recvfrom"),
    (46, "sendmsg"),
    (47, "recvmsg"),
    (48, "shutdown"),
    (49, "bind"),
    (50, "listen"),
    (51, "getsockname"),
    (52, "getpeername"),
    (53, "socketpair"),
    (54, "setsockopt"),
    (55, "getsockopt"),
    (56, "clone"),
    (57, "fork"),
    (58, "vfork"),
    (59, "execve"),
    (60, "exit"),
    (61, "wait4"),
    (62, "kill"),
    (63, "uname"),
    (64, "semget"),
    (65, "semop"),
    (66, "semctl"),
    (67, "shmdt"),
    (68, "msgget"),
    (69, "msgsnd"),
    (70, "msgrcv"),
    (71, "msgctl"),
    (72, "fcntl"),
    (73, "flock"),
    (74, "fsync"),
    (75, "fdatasync"),
    (76, "truncate"),
    (77, "ftruncate"),
    (78, "getdents"),
    (79, "getcwd"),
    (80, "chdir"),
    (81, "fchdir"),
    (82, "rename"),
    (83, "mkdir"),
    (84, "rmdir"),
    (85, "creat"),
    (86, "link"),
    (87, "unlink"),
    (88, "symlink"),
    (89, "readlink"),
    (90, "chmod"),
    (91, "fchmod"),
    (92, "chown"),
    (93, "fchown"),
    (94, "lchown"),
    (95, "umask"),
    (96, "gettimeofday"),
    (97, "getrlimit"),
    (98, "getrusage"),
    (99, "sysinfo"),
    (100, "times"),
    (101, "ptrace"),
    (102, "getuid"),
    (103, "syslog"),
    (104, "getgid"),
    (105, "setuid"),
    (106, "setgid"),
    (107, "geteuid"),
    (108, "getegid"),
    (109, "setpgid"),
    (110, "getppid"),
    (111, "getpgrp"),
    (112, "setsid"),
    (113, "setreuid"),
    (114, "setregid"),
    (115, "getgroups"),
    (116, "setgroups"),
    (117, "setresuid"),
    (118, "getresuid"),
    (119, "setresgid"),
    (120, "getresgid"),
    (121, "getpgid"),
    (122, "setfsuid"),
    (123, "setfsgid"),
    (124, "getsid"),
    (125, "capget"),
    (126, "capset"),
    (127, "rt_sigpending"),
    (128, "rt_sigtimedwait"),
    (129, "rt_sigqueueinfo"),
    (130, "rt_sigsuspend"),
    (131, "sigaltstack"),
    (132, "utime"),
    (133, "mknod"),
    (134, "uselib"),
    (135, "personality"),
    (136, "ustat"),
    (137, "statfs"),
    (138, "fstatfs"),
    (139, "sysfs"),
    (140, "getpriority"),
    (141, "setpriority"),
    (142, "sched_setparam"),
    (143, "sched_getparam"),
    (144, "sched_setscheduler"),
    (145, "sched_getscheduler"),
    (146, "sched_get_priority_max"),
    (147, "sched_get_priority_min"),
    (148, "sched_rr_get_interval"),
    (149, "mlock"),
    (150, "munlock"),
    (151, "mlockall"),
    (152, "munlockall"),
    (153, "vhangup"),
    (154, "modify_ldt"),
    (155, "pivot_root"),
    (156, "_sysctl"),
    (157, "prctl"),
    (158, "arch_prctl"),
    (159, "adjtimex"),
    (160, "setrlimit"),
    (161, "chroot"),
    (162, "sync"),
    (163, "acct"),
    (164, "settimeofday"),
    (165, "mount"),
    (166, "umount2"),
    (167, "swapon"),
    (168, "swapoff"),
    (169, "reboot"),
    (170, "sethostname"),
    (171, "setdomainname"),
    (172, "iopl"),
    (173, "ioperm"),
    (174, "create_module"),
    (175, "init_module"),
    (176, "delete_module"),
    (177, "get_kernel_syms"),
    (178, "query_module"),
    (179, "quotactl"),
    (180, "nfsservctl"),
    (181, "getpmsg"),
    (182, "putpmsg"),
    (183, "afs_syscall"),
    (184, "tuxcall"),
    (185, "security"),
    (186, "gettid"),
    (187, "readahead"),
    (188, "setxattr"),
    (189, "lsetxattr"),
    (190, "fsetxattr"),
    (191, "getxattr"),
    (192, "lgetxattr"),
    (193, "fgetxattr"),
    (194, "listxattr"),
    (195, "llistxattr"),
    (196, "flistxattr"),
    (197, "removexattr"),
    (198, "lremovexattr"),
    (199, "fremovexattr"),
    (200, "tkill"),
    (201, "time"),
    (202, "futex"),
    (203, "sched_setaffinity"),
    (204, "sched_getaffinity"),
    (205, "set_thread_area"),
    (206, "io_setup"),
    (207, "io_destroy"),
    (208, "io_getevents"),
    (209, "io_submit"),
    (210, "io_cancel"),
    (211, "get_thread_area"),
    (212, "lookup_dcookie"),
    (213, "epoll_create"),
    (214, "epoll_ctl_old"),
    (215, "epoll_wait_old"),
    (216, "remap_file_pages"),
    (217, "getdents64"),
    (218, "set_tid_address"),
    (219, "restart_syscall"),
    (220, "semtimedop"),
    (221, "fadvise64"),
    (222, "timer_create"),
    (223, "timer_settime"),
    (224, "timer_gettime"),
    (225, "timer_getoverrun"),
    (226, "timer_delete"),
    (227, "clock_settime"),
    (228, "clock_gettime"),
    (229, "clock_getres"),
    (230, "clock_nanosleep"),
    (231, "exit_group"),
    (232, "epoll_wait"),
    (233, "epoll_ctl"),
    (234, "tgkill"),
    (235, "utimes"),
    (236, "vserver"),
    (237, "mbind"),
    (238, "set_mempolicy"),
    (239, "get_mempolicy"),
    (240, "mq_open"),
    (241, "mq_unlink"),
    (242, "mq_timedsend"),
    (243, "mq_timedreceive"),
    (244, "mq_notify"),
    (245, "mq_getsetattr"),
    (246, "kexec_load"),
    (247, "waitid"),
    (248, "add_key"),
    (249, "request_key"),
    (250, "keyctl"),
    (251, "ioprio_set"),
    (252, "ioprio_get"),
    (253, "inotify_init"),
    (254, "inotify_add_watch"),
    (255, "inotify_rm_watch"),
    (256, "migrate_pages"),
    (257, "openat"),
    (258, "mkdirat"),
    (259, "mknodat"),
    (260, "fchownat"),
    (261, "futimesat"),
    (262, "newfstatat"),
    (263, "unlinkat"),
    (264, "renameat"),
    (265, "linkat"),
    (266, "symlinkat"),
    (267, "readlinkat"),
    (268, "fchmodat"),
    (269, "faccessat"),
    (270, "pselect6"),
    (271, "ppoll"),
    (272, "unshare"),
    (273, "set_robust_list"),
    (274, "get_robust_list"),
    (275, "splice"),
    (276, "tee"),
    (277, "sync_file_range"),
    (278, "vmsplice"),
    (279, "move_pages"),
    (280, "utimensat"),
    (281, "epoll_pwait"),
    (282, "signalfd"),
    (283, "timerfd_create"),
    (284, "eventfd"),
    (285, "fallocate"),
    (286, "timerfd_settime"),
    (287, "timerfd_gettime"),
    (288, "accept4"),
    (289, "signalfd4"),
    (290, "eventfd2"),
    (291, "epoll_create1"),
    (292, "dup3"),
    (293, "pipe2"),
    (294, "inotify_init1"),
    (295, "preadv"),
    (296, "pwritev"),
    (297, "rt_tgsigqueueinfo"),
    (298, "perf_event_open"),
    (299, "recvmmsg"),
    (300, "fanotify_init"),
    (301, "fanotify_mark"),
    (302, "prlimit64"),
    (303, "name_to_handle_at"),
    (304, "open_by_handle_at"),
    (305, "clock_adjtime"),
    (306, "syncfs"),
    (307, "sendmmsg"),
    (308, "setns"),
    (309, "getcpu"),
    (310, "process_vm_readv"),
    (311, "process_vm_writev"),
    (312, "kcmp"),
    (313, "finit_module"),
    (314, "sched_setattr"),
    (315, "sched_getattr"),
    (316, "renameat2"),
    (317, "seccomp"),
    (318, "getrandom"),
    (319, "memfd_create"),
    (320, "kexec_file_load"),
    (321, "bpf"),
    (322, "execveat"),
    (323, "userfaultfd"),
    (324, "membarrier"),
    (325, "mlock2"),
    (326, "copy_file_range"),
    (327, "preadv2"),
    (328, "pwritev2"),
    (329, "pkey_mprotect"),
    (330, "pkey_alloc"),
    (331, "pkey_free"),
    (332, "statx"),
    (333, "io_pgetevents"),
    (334, "rseq"),
    (335, "uretprobe"),
    (424, "pidfd_send_signal"),
    (425, "io_uring_setup"),
    (426, "io_uring_enter"),
    (427, "io_uring_register"),
    (428, "open_tree"),
    (429, "move_mount"),
    (430, "fsopen"),
    (431, "fsconfig"),
    (432, "fsmount"),
    (433, "fspick"),
    (434, "pidfd_open"),
    (435, "clone3"),
    (436, "close_range"),
    (437, "openat2"),
    (438, "pidfd_getfd"),
    (439, "faccessat2"),
    (440, "process_madvise"),
    (441, "epoll_pwait2"),
    (442, "mount_setattr"),
    (443, "quotactl_fd"),
    (444, "landlock_create_ruleset"),
    (445, "landlock_add_rule"),
    (446, "landlock_restrict_self"),
    (447, "memfd_secret"),
    (448, "process_mrelease"),
    (449, "futex_waitv"),
    (450, "set_mempolicy_home_node"),
    (451, "cachestat"),
    (452, "fchmodat2"),
    (453, "map_shadow_stack"),
    (454, "futex_wake"),
    (455, "futex_wait"),
    (456, "futex_requeue"),
    (457, "statmount"),
    (458, "listmount"),
    (459, "lsm_get_self_attr"),
    (460, "lsm_set_self_attr"),
    (461, "lsm_list_modules"),
    (462, "mseal"),
    (463, "setxattrat"),
    (464, "getxattrat"),
    (465, "listxattrat"),
    (466, "removexattrat"),
    (467, "open_tree_attr"),
    (468, "file_getattr"),
    (469, "file_setattr"),
    (512, "rt_sigaction"),
    (513, "rt_sigreturn"),
    (514, "ioctl"),
    (515, "readv"),
    (516, "writev"),
    (517, "recvfrom"),
    (518, "sendmsg"),
    (519, "recvmsg"),
    (520, "execve"),
    (521, "ptrace"),
    (522, "rt_sigpending"),
    (523, "rt_sigtimedwait"),
    (524, "rt_sigqueueinfo"),
    (525, "sigaltstack"),
    (526, "timer_create"),
    (527, "mq_notify"),
    (528, "kexec_load"),
    (529, "waitid"),
    (530, "set_robust_list"),
    (531, "get_robust_list"),
    (532, "vmsplice"),
    (533, "move_pages"),
    (534, "preadv"),
    (535, "pwritev"),
    (536, "rt_tgsigqueueinfo"),
    (537, "recvmmsg"),
    (538, "sendmmsg"),
    (539, "process_vm_readv"),
    (540, "process_vm_writev"),
    (541, "setsockopt"),
    (542, "getsockopt"),
    (543, "io_setup"),
    (544, "io_submit"),
    (545, "execveat"),
    (546, "preadv2"),
    (547, "pwritev2"),
];

/// The name of system call `nr`, as `syscall_name()` prints it.
pub fn syscall_name(nr: i32) -> &'static str {
    u32::try_from(nr)
        .ok()
        .and_then(|nr| SYSCALLS.binary_search_by_key(&nr, |(n, _)| *n).ok())
        .map_or("Unknown syscall", |i| SYSCALLS[i].1)
}

/// Signals 1 to 31 described as C's `strsignal()` does on Linux.
const SIGNALS: [&str; 31] = [
    "Hangup",
    "Interrupt",
    "Quit",
    "Illegal instruction",
    "Trace/breakpoint trap",
    "Aborted",
    "Bus error",
    "Floating point exception",
    "Killed",
    "User defined signal 1",
    "Segmentation fault",
    "User defined signal 2",
    "Broken pipe",
    "Alarm clock",
    "Terminated",
    "Stack fault",
    "Child exited",
    "Continued",
    "Stopped (signal)",
    "Stopped",
    "Stopped (tty input)",
    "Stopped (tty output)",
    "Urgent I/O condition",
    "CPU time limit exceeded",
    "File size limit exceeded",
    "Virtual timer expired",
    "Profiling timer expired",
    "Window changed",
    "I/O possible",
    "Power failure",
    "Bad system call",
];

/// The first real-time signal C programs may use (glibc keeps 32 and 33 for itself).
const SIGRTMIN: i32 = 34;
/// The last signal Linux has.
const SIGRTMAX: i32 = 64;

/// Signal `sig` described as `signal_name()` prints it: `strsignal()`'s words for 0 to 64,
/// "N/A" for a number that is no signal.
pub fn signal_name(sig: i32) -> String {
    match sig {
        1..=31 => SIGNALS[(sig - 1) as usize].to_string(),
        SIGRTMIN..=SIGRTMAX => format!("Real-time signal {}", sig - SIGRTMIN),
        0..SIGRTMIN => format!("Unknown signal {sig}"),
        _ => "N/A".to_string(),
    }
}

/// The message of errno `errno` as the script function `strerror()` prints it, as bpftrace
/// 0.27 does: the kernel's words ([`ERRNOS`]), not the C library's, so the text is the same
/// whatever libc the machine has. A negative errno (a kernel function's return value) is
/// read as its magnitude; 0 is "Success"; a number without an errno is "Unknown error".
pub fn strerror(errno: i32) -> String {
    let n = errno.unsigned_abs() as usize;
    match n.checked_sub(1).and_then(|i| ERRNOS.get(i)) {
        _ if n == 0 => "Success",
        Some(text) if !text.is_empty() => text,
        _ => "Unknown error",
    }
    .to_string()
}

/// The kernel's words for each errno, `ERRNOS[n - 1]` for errno n (`EPERM` to `EHWPOISON`),
/// from the comments of `asm-generic/errno-base.h` and `asm-generic/errno.h` (x86-64's);
/// `EAGAIN` carries its alias `EWOULDBLOCK`'s words too, as they share the number, and the
/// two numbers no errno has (41, 58) are empty.
pub const ERRNOS: &[&str] = &[
    "Operation not permitted",                         // 1 EPERM
    "No such file or directory",                       // 2 ENOENT
    "No such process",                                 // 3 ESRCH
    "Interrupted system call",                         // 4 EINTR
    "I/O error",                                       // 5 EIO
    "No such device or address",                       // 6 ENXIO
    "Argument list too long",                          // 7 E2BIG
    "Exec format error",                               // 8 ENOEXEC
    "Bad file number",                                 // 9 EBADF
    "No child processes",                              // 10 ECHILD
    "Try again (operation would block)",               // 11 EAGAIN
    "Out of memory",                                   // 12 ENOMEM
    "Permission denied",                               // 13 EACCES
    "Bad address",                                     // 14 EFAULT
    "Block device required",                           // 15 ENOTBLK
    "Device or resource busy",                         // 16 EBUSY
    "File exists",                                     // 17 EEXIST
    "Cross-device link",                               // 18 EXDEV
    "No such device",                                  // 19 ENODEV
    "Not a directory",                                 // 20 ENOTDIR
    "Is a directory",                                  // 21 EISDIR
    "Invalid argument",                                // 22 EINVAL
    "File table overflow",                             // 23 ENFILE
    "Too many open files",                             // 24 EMFILE
    "Not a typewriter",                                // 25 ENOTTY
    "Text file busy",                                  // 26 ETXTBSY
    "File too large",                                  // 27 EFBIG
    "No space left on device",                         // 28 ENOSPC
    "Illegal seek",                                    // 29 ESPIPE
    "Read-only file system",                           // 30 EROFS
    "Too many links",                                  // 31 EMLINK
    "Broken pipe",                                     // 32 EPIPE
    "Math argument out of domain of func",             // 33 EDOM
    "Math result not representable",                   // 34 ERANGE
    "Resource deadlock would occur",                   // 35 EDEADLK
    "File name too long",                              // 36 ENAMETOOLONG
    "No record locks available",                       // 37 ENOLCK
    "Invalid system call number",                      // 38 ENOSYS
    "Directory not empty",                             // 39 ENOTEMPTY
    "Too many symbolic links encountered",             // 40 ELOOP
    "",                                                // 41
    "No message of desired type",                      // 42 ENOMSG
    "Identifier removed",                              // 43 EIDRM
    "Channel number out of range",                     // 44 ECHRNG
    "Level 2 not synchronized",                        // 45 EL2NSYNC
    "Level 3 halted",                                  // 46 EL3HLT
    "Level 3 reset",                                   // 47 EL3RST
    "Link number out of range",                        // 48 ELNRNG
    "Protocol driver not attached",                    // 49 EUNATCH
    "No CSI structure available",                      // 50 ENOCSI
    "Level 2 halted",                                  // 51 EL2HLT
    "Invalid exchange",                                // 52 EBADE
    "Invalid request descriptor",                      // 53 EBADR
    "Exchange full",                                   // 54 EXFULL
    "No anode",                                        // 55 ENOANO
    "Invalid request code",                            // 56 EBADRQC
    "Invalid slot",                                    // 57 EBADSLT
    "",                                                // 58
    "Bad font file format",                            // 59 EBFONT
    "Device not a stream",                             // 60 ENOSTR
    "No data available",                               // 61 ENODATA
    "Timer expired",                                   // 62 ETIME
    "Out of streams resources",                        // 63 ENOSR
    "Machine is not on the network",                   // 64 ENONET
    "Package not installed",                           // 65 ENOPKG
    "Object is remote",                                // 66 EREMOTE
    "Link has been severed",                           // 67 ENOLINK
    "Advertise error",                                 // 68 EADV
    "Srmount error",                                   // 69 ESRMNT
    "Communication error on send",                     // 70 ECOMM
    "Protocol error",                                  // 71 EPROTO
    "Multihop attempted",                              // 72 EMULTIHOP
    "RFS specific error",                              // 73 EDOTDOT
    "Not a data message",                              // 74 EBADMSG
    "Value too large for defined data type",           // 75 EOVERFLOW
    "Name not unique on network",                      // 76 ENOTUNIQ
    "File descriptor in bad state",                    // 77 EBADFD
    "Remote address changed",                          // 78 EREMCHG
    "Can not access a needed shared library",          // 79 ELIBACC
    "Accessing a corrupted shared library",            // 80 ELIBBAD
    ".lib section in a.out corrupted",                 // 81 ELIBSCN
    "Attempting to link in too many shared libraries", // 82 ELIBMAX
    "Cannot exec a shared library directly",           // 83 ELIBEXEC
    "Illegal byte sequence",                           // 84 EILSEQ
    "Interrupted system call should be restarted",     // 85 ERESTART
    "Streams pipe error",                              // 86 ESTRPIPE
    "Too many users",                                  // 87 EUSERS
    "Socket operation on non-socket",                  // 88 ENOTSOCK
    "Destination address required",                    // 89 EDESTADDRREQ
    "Message too long",                                // 90 EMSGSIZE
    "Protocol wrong type for socket",                  // 91 EPROTOTYPE
    "Protocol not available",                          // 92 ENOPROTOOPT
    "Protocol not supported",                          // 93 EPROTONOSUPPORT
    "Socket type not supported",                       // 94 ESOCKTNOSUPPORT
    "Operation not supported on transport endpoint",   // 95 EOPNOTSUPP
    "Protocol family not supported",                   // 96 EPFNOSUPPORT
    "Address family not supported by protocol",        // 97 EAFNOSUPPORT
    "Address already in use",                          // 98 EADDRINUSE
    "Cannot assign requested address",                 // 99 EADDRNOTAVAIL
    "Network is down",                                 // 100 ENETDOWN
    "Network is unreachable",                          // 101 ENETUNREACH
    "Network dropped connection because of reset",     // 102 ENETRESET
    "Software caused connection abort",                // 103 ECONNABORTED
    "Connection reset by peer",                        // 104 ECONNRESET
    "No buffer space available",                       // 105 ENOBUFS
    "Transport endpoint is already connected",         // 106 EISCONN
    "Transport endpoint is not connected",             // 107 ENOTCONN
    "Cannot send after transport endpoint shutdown",   // 108 ESHUTDOWN
    "Too many references: cannot splice",              // 109 ETOOMANYREFS
    "Connection timed out",                            // 110 ETIMEDOUT
    "Connection refused",                              // 111 ECONNREFUSED
    "Host is down",                                    // 112 EHOSTDOWN
    "No route to host",                                // 113 EHOSTUNREACH
    "Operation already in progress",                   // 114 EALREADY
    "Operation now in progress",                       // 115 EINPROGRESS
    "Stale file handle",                               // 116 ESTALE
    "Structure needs cleaning",                        // 117 EUCLEAN
    "Not a XENIX named type file",                     // 118 ENOTNAM
    "No XENIX semaphores available",                   // 119 ENAVAIL
    "Is a named type file",                            // 120 EISNAM
    "Remote I/O error",                                // 121 EREMOTEIO
    "Quota exceeded",                                  // 122 EDQUOT
    "No medium found",                                 // 123 ENOMEDIUM
    "Wrong medium type",                               // 124 EMEDIUMTYPE
    "Operation Canceled",                              // 125 ECANCELED
    "Required key not available",                      // 126 ENOKEY
    "Key has expired",                                 // 127 EKEYEXPIRED
    "Key has been revoked",                            // 128 EKEYREVOKED
    "Key was rejected by service",                     // 129 EKEYREJECTED
    "Owner died",                                      // 130 EOWNERDEAD
    "State not recoverable",                           // 131 ENOTRECOVERABLE
    "Operation not possible due to RF-kill",           // 132 ERFKILL
    "Memory page has hardware error",                  // 133 EHWPOISON
];

/// The allocation flag bits (`__GFP_*`, the bit numbers of Linux 6.10 and later), which
/// `%gr` names. The movable and reclaimable bits (3 and 4) and the unused bit 9 have no
/// name of their own there, as bpftrace 0.27 prints them: they stay in the hex rest.
const GFP_DMA: u64 = 1 << 0;
const GFP_HIGHMEM: u64 = 1 << 1;
const GFP_MOVABLE: u64 = 1 << 3;
const GFP_HIGH: u64 = 1 << 5;
const GFP_IO: u64 = 1 << 6;
const GFP_FS: u64 = 1 << 7;
const GFP_DIRECT_RECLAIM: u64 = 1 << 10;
const GFP_KSWAPD_RECLAIM: u64 = 1 << 11;
const GFP_RECLAIM: u64 = GFP_DIRECT_RECLAIM | GFP_KSWAPD_RECLAIM;
const GFP_NOWARN: u64 = 1 << 13;
const GFP_COMP: u64 = 1 << 18;
const GFP_NOMEMALLOC: u64 = 1 << 19;
const GFP_HARDWALL: u64 = 1 << 20;
const GFP_ACCOUNT: u64 = 1 << 22;
const GFP_SKIP_KASAN: u64 = 1 << 25;
const GFP_KERNEL: u64 = GFP_RECLAIM | GFP_IO | GFP_FS;
const GFP_USER: u64 = GFP_KERNEL | GFP_HARDWALL;
const GFP_HIGHUSER: u64 = GFP_USER | GFP_HIGHMEM;
const GFP_HIGHUSER_MOVABLE: u64 = GFP_HIGHUSER | GFP_MOVABLE | GFP_SKIP_KASAN;
const GFP_TRANSHUGE_LIGHT: u64 =
    (GFP_HIGHUSER_MOVABLE | GFP_COMP | GFP_NOMEMALLOC | GFP_NOWARN) & !GFP_RECLAIM;

/// `(mask, name)` in the order `%gr` tries them: the common combinations first (the
/// largest first), then single flags by bit. Each mask wholly present is named and taken out.
const GFP_FLAGS: &[(u64, &str)] = &[
    (GFP_TRANSHUGE_LIGHT | GFP_DIRECT_RECLAIM, "GFP_TRANSHUGE"),
    (GFP_TRANSHUGE_LIGHT, "GFP_TRANSHUGE_LIGHT"),
    (GFP_HIGHUSER_MOVABLE, "GFP_HIGHUSER_MOVABLE"),
    (GFP_HIGHUSER, "GFP_HIGHUSER"),
    (GFP_USER, "GFP_USER"),
    (GFP_KERNEL | GFP_ACCOUNT, "GFP_KERNEL_ACCOUNT"),
    (GFP_KERNEL, "GFP_KERNEL"),
    (GFP_RECLAIM | GFP_IO, "GFP_NOFS"),
    (GFP_HIGH | GFP_KSWAPD_RECLAIM, "GFP_ATOMIC"),
    (GFP_RECLAIM, "GFP_NOIO"),
    (GFP_KSWAPD_RECLAIM | GFP_NOWARN, "GFP_NOWAIT"),
    (GFP_DMA, "GFP_DMA"),
    (GFP_HIGHMEM, "__GFP_HIGHMEM"),
    (1 << 2, "GFP_DMA32"),
    (GFP_HIGH, "__GFP_HIGH"),
    (GFP_IO, "__GFP_IO"),
    (GFP_FS, "__GFP_FS"),
    (1 << 8, "__GFP_ZERO"),
    (GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM"),
    (GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM"),
    (1 << 12, "__GFP_WRITE"),
    (GFP_NOWARN, "__GFP_NOWARN"),
    (1 << 14, "__GFP_RETRY_MAYFAIL"),
    (1 << 15, "__GFP_NOFAIL"),
    (1 << 16, "__GFP_NORETRY"),
    (1 << 17, "__GFP_MEMALLOC"),
    (GFP_COMP, "__GFP_COMP"),
    (GFP_NOMEMALLOC, "__GFP_NOMEMALLOC"),
    (GFP_HARDWALL, "__GFP_HARDWALL"),
    (1 << 21, "__GFP_THISNODE"),
    (GFP_ACCOUNT, "__GFP_ACCOUNT"),
    (1 << 23, "__GFP_ZEROTAGS"),
    (1 << 24, "__GFP_SKIP_ZERO"),
    (GFP_SKIP_KASAN, "__GFP_SKIP_KASAN"),
    (1 << 26, "__GFP_NO_OBJ_EXT"),
];

/// Allocation flags as `%gr` prints them: names joined by `|`, then any bits without a
/// name in hex (`GFP_KERNEL|__GFP_NOWARN`, `GFP_DMA|0x8`); `0` for none.
pub fn gfp_flags(flags: u64) -> String {
    if flags == 0 {
        return "0".to_string();
    }
    let mut rest = flags;
    let mut parts: Vec<String> = Vec::new();
    for &(mask, name) in GFP_FLAGS {
        if rest & mask == mask {
            parts.push(name.to_string());
            rest &= !mask;
        }
    }
    if rest != 0 {
        parts.push(format!("{rest:#x}"));
    }
    parts.join("|")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_named() {
        assert_eq!(syscall_name(0), "read");
        assert_eq!(syscall_name(257), "openat");
        assert_eq!(syscall_name(335), "uretprobe");
        assert_eq!(syscall_name(512), "rt_sigaction");
        assert_eq!(syscall_name(400), "Unknown syscall");
        assert_eq!(syscall_name(-1), "Unknown syscall");
        assert!(SYSCALLS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(signal_name(9), "Killed");
        assert_eq!(signal_name(0), "Unknown signal 0");
        assert_eq!(signal_name(33), "Unknown signal 33");
        assert_eq!(signal_name(34), "Real-time signal 0");
        assert_eq!(signal_name(64), "Real-time signal 30");
        assert_eq!(signal_name(65), "N/A");
        assert_eq!(signal_name(-1), "N/A");
        assert_eq!(strerror(2), "No such file or directory");
        assert_eq!(strerror(9999), "Unknown error");
        assert_eq!(strerror(-22), "Invalid argument");
        assert_eq!(strerror(5), "I/O error");
        assert_eq!(strerror(0), "Success");
        assert_eq!(strerror(41), "Unknown error");
        assert_eq!(strerror(133), "Memory page has hardware error");
    }
}

"""The dev container's seccomp profile: what its processes may ask of the kernel.

Written by tazpod, in the format Docker and Podman read (`--security-opt seccomp=`):
everything not listed fails with EPERM. The list is that of an ordinary container
runtime's default (files, processes, memory, signals, sockets, timers, the 32-bit and
ARM variants of each), without the calls that widen the kernel's surface or reach past
the container (kernel modules, kexec, bpf, perf, keyrings, io_uring, userfaultfd, clock
and host names, swap, quotas, reboot, open_by_handle_at), and with the allowance the
enclave needs now that the container has no CAP_SYS_ADMIN: ``unshare``, ``setns``,
``mount`` and ``umount2``; and ``chroot``, which OpenSSH's sshd needs for its
privilege separation (root's only: it needs CAP_SYS_CHROOT). The kernel still
decides what those may do: without
CAP_SYS_ADMIN in the container, a mount is possible only inside a user namespace of
one's own (a tmpfs, a bind mount), never on the container's own file systems, and a
cgroup hierarchy cannot be mounted at all. ``clone`` stays limited to flags without new
namespaces (``unshare`` is the one way in), and ``clone3``, whose flags a filter cannot
read, answers ENOSYS so that the C library falls back to ``clone``.
"""

from __future__ import annotations

import json

EPERM = 1
ENOSYS = 38

# Flags of clone(2) that make new namespaces (NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER,
# NEWPID, NEWNET): a clone with any of them is refused.
CLONE_NAMESPACE_FLAGS = 0x7E020000

ENCLAVE_ALLOWANCE = ("unshare", "setns", "mount", "umount2", "umount")
# sshd's privilege separation (tazpod.remote.sshd): Podman's and Docker's defaults allow it
# to holders of CAP_SYS_CHROOT, which the kernel asks for anyway (root's alone here).
SSHD_ALLOWANCE = ("chroot",)

_ALLOWED = """
    accept accept4 access alarm bind brk capget capset chdir chmod chown chown32 chroot
    clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
    clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
    epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait
    epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2
    fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown
    fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr
    fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
    futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat getcpu getcwd
    getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
    getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom
    getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid
    getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr
    inotify_add_watch inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy
    io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit
    ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown
    lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek
    lsetxattr lstat lstat64 madvise membarrier memfd_create mincore mkdir mkdirat mknod
    mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open
    mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap
    msgctl msgget msgrcv msgsnd msync munlock munlockall munmap nanosleep newfstatat
    _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc
    pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
    process_mrelease pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2 read readahead
    readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg
    remap_file_pages removexattr rename renameat renameat2 restart_syscall rmdir rseq
    rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend
    rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr
    sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler
    sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr
    sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
    semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
    setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid
    setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
    setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address
    setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd
    signalfd4 sigprocmask sigreturn socket socketcall socketpair splice stat stat64 statfs
    statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time
    timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime
    timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
    timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat
    utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
"""

# Per architecture, by the names the engines match ``includes.arches`` against (Go's).
_PER_ARCH = {
    "amd64": ("arch_prctl", "modify_ldt"),
    "x32": ("arch_prctl", "modify_ldt"),
    "386": ("modify_ldt",),
    "arm": ("arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls"),
    "arm64": ("arm_fadvise64_64", "arm_sync_file_range", "breakpoint", "cacheflush", "set_tls"),
}

# personality(2): only the execution domains programs ask for (Linux, with or without
# address-space randomisation off, and the query 0xffffffff).
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)

_ARCH_MAP = [
    {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
    {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
]


def allowed_names() -> list[str]:
    """Every call the profile allows without looking at its arguments."""
    return sorted({*_ALLOWED.split(), *ENCLAVE_ALLOWANCE})


def profile() -> dict[str, object]:
    rules: list[dict[str, object]] = [{"names": allowed_names(), "action": "SCMP_ACT_ALLOW"}]
    for arch, names in _PER_ARCH.items():
        if names:
            rules.append(
                {"names": list(names), "action": "SCMP_ACT_ALLOW", "includes": {"arches": [arch]}}
            )
    for value in _PERSONALITIES:
        rules.append(
            {
                "names": ["personality"],
                "action": "SCMP_ACT_ALLOW",
                "args": [{"index": 0, "value": value, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
            }
        )
    rules.append(
        {
            "names": ["clone"],
            "action": "SCMP_ACT_ALLOW",
            "args": [
                {
                    "index": 0,
                    "value": CLONE_NAMESPACE_FLAGS,
                    "valueTwo": 0,
                    "op": "SCMP_CMP_MASKED_EQ",
                }
            ],
        }
    )
    rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS})
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": EPERM,
        "archMap": _ARCH_MAP,
        "syscalls": rules,
    }


def profile_json() -> str:
    return json.dumps(profile(), separators=(",", ":"), sort_keys=True)

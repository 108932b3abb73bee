"""Loop devices through their ioctls, and device-mapper devices through sysfs.

Attaching takes an already-open file descriptor (opened with the vault
owner's rights, no symlinks), sets LO_FLAGS_AUTOCLEAR, and hands back the
loop's descriptor: the kernel frees the loop when the last user (that
descriptor, then the dm-crypt mapping on top) lets go, so a crash never
leaks one. Detaching is only ever asked for loops whose backing file is
identified by device and inode, never by name.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path

LOOP_MAJOR = 7
LOOP_CTL_GET_FREE = 0x4C82
LOOP_SET_FD = 0x4C00
LOOP_CLR_FD = 0x4C01
LOOP_SET_STATUS64 = 0x4C04
LOOP_GET_STATUS64 = 0x4C05
LOOP_CONFIGURE = 0x4C0A
LO_FLAGS_AUTOCLEAR = 4
_SYS_BLOCK = Path("/sys/block")


class _LoopInfo64(ctypes.Structure):
    _fields_ = [
        ("lo_device", ctypes.c_uint64),
        ("lo_inode", ctypes.c_uint64),
        ("lo_rdevice", ctypes.c_uint64),
        ("lo_offset", ctypes.c_uint64),
        ("lo_sizelimit", ctypes.c_uint64),
        ("lo_number", ctypes.c_uint32),
        ("lo_encrypt_type", ctypes.c_uint32),
        ("lo_encrypt_key_size", ctypes.c_uint32),
        ("lo_flags", ctypes.c_uint32),
        ("lo_file_name", ctypes.c_char * 64),
        ("lo_crypt_name", ctypes.c_char * 64),
        ("lo_encrypt_key", ctypes.c_char * 32),
        ("lo_init", ctypes.c_uint64 * 2),
    ]


class _LoopConfig(ctypes.Structure):
    _fields_ = [
        ("fd", ctypes.c_uint32),
        ("block_size", ctypes.c_uint32),
        ("info", _LoopInfo64),
        ("reserved", ctypes.c_uint64 * 8),
    ]


@dataclass(frozen=True)
class Loop:
    path: str
    fd: int  # keeps the loop alive until closed (autoclear)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)


def _node(number: int) -> str:
    """/dev/loopN, created when missing (a container's /dev has only what it was given)."""
    path = f"/dev/loop{number}"
    if not os.path.exists(path):
        os.mknod(path, 0o660 | stat.S_IFBLK, os.makedev(LOOP_MAJOR, number))
    return path


def _info(label: str) -> _LoopInfo64:
    info = _LoopInfo64()
    info.lo_flags = LO_FLAGS_AUTOCLEAR
    info.lo_file_name = label.encode()[:63]
    return info


def _configure(loop_fd: int, backing_fd: int, label: str) -> None:
    config = _LoopConfig()
    config.fd = backing_fd
    config.info = _info(label)
    try:
        fcntl.ioctl(loop_fd, LOOP_CONFIGURE, bytes(config))
    except OSError as err:
        if err.errno not in (errno.EINVAL, errno.ENOTTY):
            raise
        # Kernels before 5.8: the two-step way (autoclear is set before anyone else can open it).
        fcntl.ioctl(loop_fd, LOOP_SET_FD, backing_fd)
        fcntl.ioctl(loop_fd, LOOP_SET_STATUS64, bytes(_info(label)))


def attach(backing_fd: int, label: str) -> Loop:
    """A free loop device backed by ``backing_fd``, with autoclear set."""
    control = os.open("/dev/loop-control", os.O_RDWR | os.O_CLOEXEC)
    try:
        for _attempt in range(32):
            number = fcntl.ioctl(control, LOOP_CTL_GET_FREE)
            path = _node(number)
            loop_fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            try:
                _configure(loop_fd, backing_fd, label)
            except OSError as err:
                os.close(loop_fd)
                if err.errno == errno.EBUSY:
                    continue  # another process took this one between the two calls
                raise
            return Loop(path, loop_fd)
    finally:
        os.close(control)
    raise OSError(errno.EBUSY, "no free loop device after 32 attempts")


def backing(number: int) -> tuple[int, int] | None:
    """(st_dev, st_ino) of the file behind /dev/loopN, or None when it is free."""
    try:
        fd = os.open(_node(number), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        buffer = bytearray(ctypes.sizeof(_LoopInfo64))
        fcntl.ioctl(fd, LOOP_GET_STATUS64, buffer, True)
    except OSError:
        return None
    finally:
        os.close(fd)
    info = _LoopInfo64.from_buffer(buffer)
    return int(info.lo_device), int(info.lo_inode)


def loops_backed_by(device: int, inode: int) -> list[int]:
    """Numbers of the loop devices whose backing file is (device, inode)."""
    found = []
    for entry in sorted(_SYS_BLOCK.glob("loop[0-9]*")):
        if not (entry / "loop" / "backing_file").exists():
            continue
        number = int(entry.name[4:])
        if backing(number) == (device, inode):
            found.append(number)
    return found


def holders(kernel_name: str) -> list[str]:
    """Block devices stacked on this one (e.g. a dm-crypt mapping on a loop)."""
    path = _SYS_BLOCK / kernel_name / "holders"
    return sorted(p.name for p in path.iterdir()) if path.is_dir() else []


def detach(number: int) -> None:
    fd = os.open(_node(number), os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, LOOP_CLR_FD)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class MappedDevice:
    name: str  # the device-mapper name
    kernel_name: str  # dm-N
    number: str  # "major:minor"
    slaves: tuple[str, ...]  # the devices under it, e.g. ("loop3",)


def mapped_device(name: str) -> MappedDevice | None:
    """The device-mapper device called ``name``, read from sysfs."""
    for entry in _SYS_BLOCK.glob("dm-*"):
        try:
            if (entry / "dm" / "name").read_text().strip() != name:
                continue
            number = (entry / "dev").read_text().strip()
            slaves = tuple(sorted(p.name for p in (entry / "slaves").iterdir()))
        except OSError:
            continue
        return MappedDevice(name, entry.name, number, slaves)
    return None


def processes_mounting(number: str) -> list[int]:
    """Processes whose mount namespace has the block device ``major:minor`` mounted."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/mountinfo").read_text()
        except OSError:
            continue
        if any(line.split()[2] == number for line in text.splitlines() if line.count(" ") > 3):
            pids.append(int(entry))
    return sorted(pids)

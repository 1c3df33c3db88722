#!/bin/sh
# Runs as root inside fresh mount/pid/net/ipc/uts namespaces (see sandbox.py), before any
# student code: builds a new root on a size-capped tmpfs that holds only read-only binds of the
# Python runtime and the library, plus the job's own files, then drops every capability (and,
# when the grader runs as root, switches to the driver's unprivileged uid) and runs the driver.
#   sandbox-init.sh NEWROOT INPUTS DISK_MB KERNEL_UID DRIVER_UID PROC READ_ONLY_DIRS... -- COMMAND...
# INPUTS holds grader/ (becomes /grader: the driver, kernel/ the files the kernel runs, the job)
# and sandbox/ (becomes /sandbox: the kernel's folder). KERNEL_UID and DRIVER_UID are "-" where
# the grader is not root (a user namespace maps one uid: driver and kernel share it).
# PROC: "fresh" mounts a /proc of the new PID namespace; "none" leaves /proc empty, for runtimes
# that refuse proc mounts (Colab since 2025, containers whose /proc has entries mounted over).
set -eu
R=$1; IN=$2; DISK=$3; KERNEL_UID=$4; DRIVER_UID=$5; PROC=$6; shift 6
mount -t tmpfs -o "size=${DISK}m,mode=755" boxloc-sandbox "$R"
while [ "$1" != "--" ]; do
  d=$1; shift
  if [ -L "$d" ]; then
    mkdir -p "$R$(dirname "$d")"; ln -s "$(readlink "$d")" "$R$d"
  elif [ -d "$d" ]; then
    mkdir -p "$R$d"; mount --bind "$d" "$R$d"
    mount -o remount,bind,ro "$R$d" 2>/dev/null || mount -o remount,bind,ro,nosuid,nodev "$R$d"
  fi
done
shift
mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/sandbox" "$R/grader" "$R/.old"
for n in null zero random urandom full; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir -p "$R/dev/shm"
mount -t tmpfs -o size=64m,mode=1777 shm "$R/dev/shm"
if [ "$PROC" = fresh ]; then mount -t proc proc "$R/proc"; fi
cp -r "$IN/sandbox/." "$R/sandbox/"
cp -r "$IN/grader/." "$R/grader/"
chmod 1777 "$R/tmp"
# /grader is the driver's: the kernel may read kernel/ and create its sockets in run/ (sticky,
# not listable: it can neither see nor remove the driver's files there), nothing else
chmod 755 "$R/grader" "$R/grader/kernel"
chmod 644 "$R/grader/kernel/"*
chmod 600 "$R/grader/job.json" "$R/grader/submission.ipynb" 2>/dev/null || true
chmod 1733 "$R/grader/run"
if [ "$KERNEL_UID" != "-" ]; then
  chown -R "$KERNEL_UID:$KERNEL_UID" "$R/sandbox"
  chown -R "$DRIVER_UID:$DRIVER_UID" "$R/grader"
fi
# what the kernel runs, read-only even to a kernel of the driver's uid (a user namespace)
mount --bind "$R/grader/kernel" "$R/grader/kernel"
mount -o remount,bind,ro "$R/grader/kernel" 2>/dev/null || mount -o remount,bind,ro,nosuid,nodev "$R/grader/kernel"
cd "$R"
pivot_root . .old
if [ "$PROC" = fresh ]; then
  umount -l /.old
else
  # util-linux's umount reads /proc/self/mountinfo, absent here: the system call, from Python
  "$1" -I -S -c 'import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(0 if libc.umount2(b"/.old", 2) == 0 else "umount /.old: " + os.strerror(ctypes.get_errno()))'
fi
rmdir /.old
cd /sandbox
if [ "$KERNEL_UID" != "-" ]; then
  # the driver: a uid of its own, in the kernel's group (to reach the kernel's sockets), with
  # only the capabilities to start the kernel as KERNEL_UID and to stop it
  exec setpriv --reuid="$DRIVER_UID" --regid="$DRIVER_UID" --groups="$KERNEL_UID" \
    --inh-caps=-all,+setuid,+setgid,+kill --ambient-caps=-all,+setuid,+setgid,+kill \
    --bounding-set=-all,+setuid,+setgid,+kill --no-new-privs "$@"
fi
exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"

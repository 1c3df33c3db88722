#!/bin/sh
# Runs as root inside fresh mount/pid/net/ipc/uts namespaces (see sandbox.py), before any
# student code: builds a new root on a size-capped tmpfs that holds only read-only binds of the
# Python runtime and the library, plus the job's own files, then drops every capability (and,
# when the grader runs as root, switches to the job's unprivileged uid) and runs the driver.
#   sandbox-init.sh NEWROOT INPUTS DISK_MB UID PROC READ_ONLY_DIRS... -- COMMAND...
# PROC: "fresh" mounts a /proc of the new PID namespace; "none" leaves /proc empty, for runtimes
# that refuse proc mounts (Colab since 2025, containers whose /proc has entries mounted over).
set -eu
R=$1; IN=$2; DISK=$3; RUN_UID=$4; PROC=$5; shift 5
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
mkdir -p "$R/dev" "$R/proc" "$R/tmp" "$R/sandbox" "$R/.old"
for n in null zero random urandom full; do touch "$R/dev/$n"; mount --bind "/dev/$n" "$R/dev/$n"; done
mkdir -p "$R/dev/shm"
mount -t tmpfs -o size=64m,mode=1777 shm "$R/dev/shm"
if [ "$PROC" = fresh ]; then mount -t proc proc "$R/proc"; fi
cp -r "$IN/." "$R/sandbox/"
chmod 1777 "$R/tmp"
if [ "$RUN_UID" != "-" ]; then chown -R "$RUN_UID:$RUN_UID" "$R/sandbox"; fi
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
if [ "$RUN_UID" != "-" ]; then
  exec setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups --inh-caps=-all \
    --bounding-set=-all --no-new-privs "$@"
fi
exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"

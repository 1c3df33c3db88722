#!/bin/sh
# Runs as root inside fresh mount/pid/net/ipc/uts namespaces (see sandbox.py), before any
# student code: builds a new root on a size-capped tmpfs that holds only read-only binds of the
# Python runtime and the library, plus the job's own files, then drops every capability (and,
# when the grader runs as root, switches to the job's unprivileged uid) and runs the driver.
#   sandbox-init.sh NEWROOT INPUTS DISK_MB UID READ_ONLY_DIRS... -- COMMAND...
set -eu
R=$1; IN=$2; DISK=$3; RUN_UID=$4; shift 4
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
mount -t proc proc "$R/proc"
cp -r "$IN/." "$R/sandbox/"
chmod 1777 "$R/tmp"
if [ "$RUN_UID" != "-" ]; then chown -R "$RUN_UID:$RUN_UID" "$R/sandbox"; fi
cd "$R"
pivot_root . .old
umount -l /.old
rmdir /.old
cd /sandbox
if [ "$RUN_UID" != "-" ]; then
  exec setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups --inh-caps=-all \
    --bounding-set=-all --no-new-privs "$@"
fi
exec setpriv --inh-caps=-all --bounding-set=-all --no-new-privs "$@"

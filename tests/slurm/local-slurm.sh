#!/usr/bin/env bash
# A real one-node Slurm (slurmctld + slurmd + munge) on localhost for the sweep executor
# test (../shared/docs/slurm-local.md). Needs root and Debian's slurmctld slurmd
# slurm-client munge (scripts/setup.sh installs them).
#   local-slurm.sh start DIR   -> prints nothing, returns when the node is idle
#   local-slurm.sh stop DIR    -> stops the daemons started with DIR
#   local-slurm.sh diagnose DIR -> what the queue and the daemons' logs say (for a test that waits in vain)
# One test cluster at a time: the tests hold a lock (ctest RESOURCE_LOCK local_slurm and a
# flock on /tmp/osteofm-local-slurm.lock) while theirs runs. Daemons left by a test that died are stopped
# by the next start (their pids are also kept in $LOCAL_SLURM_REGISTRY), and a start waits
# until Slurm's ports are free: two clusters on the same ports, back to back, once left the
# second test's jobs unrun for 600 silent seconds.
set -euo pipefail
cmd=$1
dir=$2
registry=${LOCAL_SLURM_REGISTRY:-/tmp/osteofm-local-slurm.pids}
ports=(6817 6818)  # slurmctld, slurmd (Debian's defaults; slurm.conf below keeps them)

stop_pids() {  # PID...: TERM, wait up to 10 s (slurmctld saves its state first), then KILL
  local p alive
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.2
  done
  for p in "$@"; do kill -9 "$p" 2>/dev/null || true; done
}
port_listening() {  # PORT: is anything listening on it (IPv4 or IPv6)?
  local hex
  hex=$(printf '%04X' "$1")
  # /proc/net/tcp*: local address "IP:PORT" (hex), state 0A = LISTEN.
  awk -v p=":$hex" 'NR > 1 && $4 == "0A" && substr($2, length($2) - 4) == p {found = 1} END {exit !found}' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

if [[ $cmd == diagnose ]]; then
  echo "squeue: $(squeue -h -o '%i %j %T %R' 2>&1 | tr '\n' ';')"
  echo "sinfo: $(sinfo -h -o '%n %t' 2>&1 | tr '\n' ';')"
  for f in "$dir"/log/slurmctld.log "$dir"/log/slurmd.log; do
    [[ -f $f ]] && { echo "--- last lines of $f"; tail -n 15 "$f"; }
  done
  exit 0
fi
if [[ $cmd == stop ]]; then
  pids=()
  for f in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid; do
    [[ -f $f ]] && pids+=("$(cat "$f")")
  done
  ((${#pids[@]})) && stop_pids "${pids[@]}"
  rm -f "$registry"
  exit 0
fi
# The registry: "owner PID" (the test process, $LOCAL_SLURM_OWNER, else the caller), then
# the daemons' pids. Daemons whose owner is gone are left over from a killed test: stopped.
# An owner still alive is another test's cluster in use: refused, never shared or killed.
owner=${LOCAL_SLURM_OWNER:-$PPID}
if [[ -s $registry ]]; then
  read -r _ prev_owner <"$registry" || true
  if [[ -n ${prev_owner:-} && $prev_owner != "$owner" ]] && kill -0 "$prev_owner" 2>/dev/null; then
    echo "local-slurm: process $prev_owner runs a test cluster ($registry); one at a time" >&2
    exit 1
  fi
  mapfile -t stale < <(tail -n +2 "$registry")
  ((${#stale[@]})) && stop_pids "${stale[@]}"
  rm -f "$registry"
fi
mkdir -p "$dir"/{state,spool,log}
# A cluster that already answers and is not a test cluster (a developer's own) is reused and
# left alone (no pid files are written here). One of ours still answering is stopping: wait.
if [[ ! -f /etc/slurm/slurm.conf ]] || ! grep -q '^ClusterName=osteofm-test' /etc/slurm/slurm.conf; then
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then exit 0; fi
fi
for _ in $(seq 1 150); do
  busy=0
  for p in "${ports[@]}"; do port_listening "$p" && busy=1; done
  ((busy)) || break
  sleep 0.2
done
for p in "${ports[@]}"; do
  if port_listening "$p"; then
    echo "local-slurm: port $p is still taken after 30 s (another Slurm?): $(ss -ltnp 2>/dev/null | grep ":$p " || true)" >&2
    exit 1
  fi
done
host=$(hostname -s)
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) - 1024 ))
# munge: a key, its run folder, the daemon as the munge user.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /etc/munge /run/munge /var/log/munge /var/lib/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge
  chmod 400 /etc/munge/munge.key
  su -s /bin/sh munge -c "/usr/sbin/munged --pid-file=/run/munge/munged.pid"
  cp /run/munge/munged.pid "$dir/munged.pid" 2>/dev/null || true
fi
mkdir -p /etc/slurm
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=osteofm-test
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SchedulerType=sched/backfill
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
SlurmctldPort=${ports[0]}
SlurmdPort=${ports[1]}
CONF
slurmctld -i
slurmd
for _ in $(seq 1 60); do
  {
    echo "owner $owner"
    for f in "$dir"/slurmctld.pid "$dir"/slurmd.pid "$dir"/munged.pid; do
      [[ -f $f ]] && cat "$f"
    done
  } >"$registry"
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then exit 0; fi
  # A daemon that died (a port taken, a bad config) fails the start now, with its log.
  for d in slurmctld slurmd; do
    if [[ -f $dir/$d.pid ]] && ! kill -0 "$(cat "$dir/$d.pid")" 2>/dev/null; then
      echo "local-slurm: $d exited during start; last lines of $dir/log/$d.log:" >&2
      tail -n 15 "$dir/log/$d.log" >&2 || true
      exit 1
    fi
  done
  sleep 0.5
done
echo "local-slurm: node never became idle in 30 s; see $dir/log" >&2
bash "$0" diagnose "$dir" >&2
exit 1

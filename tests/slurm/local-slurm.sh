#!/usr/bin/env bash
# A real one-node Slurm (slurmctld + slurmd + munge) on localhost for the sweep executor
# test (../shared/docs/slurm-local.md). Needs root and Debian's slurmctld slurmd
# slurm-client munge (scripts/setup.sh installs them).
#   local-slurm.sh start DIR   -> prints nothing, returns when the node is idle
#   local-slurm.sh stop DIR    -> stops the daemons started with DIR
set -euo pipefail
cmd=$1
dir=$2
if [[ $cmd == stop ]]; then
  pids=()
  for f in "$dir"/slurmd.pid "$dir"/slurmctld.pid "$dir"/munged.pid; do
    [[ -f $f ]] && pids+=("$(cat "$f")")
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # Leave nothing running: wait for them to go (slurmctld saves its state first).
  for _ in $(seq 1 50); do
    alive=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || exit 0
    sleep 0.2
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  exit 0
fi
mkdir -p "$dir"/{state,spool,log}
# A cluster that already answers is reused and left alone (no pid files are written here).
if sinfo -h -o %t 2>/dev/null | grep -q idle; then exit 0; fi
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
CONF
slurmctld -i
slurmd
for _ in $(seq 1 60); do
  if sinfo -h -o %t 2>/dev/null | grep -q idle; then exit 0; fi
  sleep 0.5
done
echo "local-slurm: node never became idle; see $dir/log" >&2
exit 1

// cpu_usage.cc - CpuUsage's arithmetic (host.h); the reading is the host's.
#include <algorithm>

#include "host/host.h"

namespace faio::tool {

CpuUsage CpuUsage::operator-(const CpuUsage& start) const {
  CpuUsage d;
  d.usr_s = std::max(0.0, usr_s - start.usr_s);
  d.sys_s = std::max(0.0, sys_s - start.sys_s);
  d.ctx = ctx >= start.ctx ? ctx - start.ctx : 0;
  d.majf = majf >= start.majf ? majf - start.majf : 0;
  d.minf = minf >= start.minf ? minf - start.minf : 0;
  return d;
}

void CpuUsage::Add(const CpuUsage& o) {
  usr_s += o.usr_s;
  sys_s += o.sys_s;
  ctx += o.ctx;
  majf += o.majf;
  minf += o.minf;
}

}  // namespace faio::tool

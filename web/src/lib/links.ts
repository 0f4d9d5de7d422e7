// The operations listener is separate (OPS_ADDR, 127.0.0.1:8081 by default);
// behind nginx it is proxied at /monitor/.
export function monitorURL(): string {
  return `${location.protocol}//${location.hostname}:8081/monitor/`
}

/** CPU time redis-server has used so far (user + sys, all threads), ms, from its `INFO cpu` text. */
export function cpuMsFromInfo(info: string): number {
  const sys = Number(/^used_cpu_sys:([\d.]+)/m.exec(info)?.[1] ?? 0);
  const user = Number(/^used_cpu_user:([\d.]+)/m.exec(info)?.[1] ?? 0);
  return (sys + user) * 1000;
}

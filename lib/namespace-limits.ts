// The kernel's names and limits for the namespaces made beside a PID namespace
// (options.namespaces), shared by their checks (namespaces.ts), the hints for the kernel's
// refusals (errors.ts) and the command line (cli-args.ts).

/** The namespaces that can be created together with the PID namespace, by their names in /proc/PID/ns. */
export const NEW_NAMESPACE_KINDS = ['cgroup', 'ipc', 'mnt', 'net', 'time', 'uts'] as const;
export type NewNamespaceKind = (typeof NEW_NAMESPACE_KINDS)[number];

/** The longest host name the kernel takes (__NEW_UTS_LEN, include/uapi/linux/utsname.h), in bytes. */
export const HOSTNAME_MAX = 64;
/**
 * The largest offset in seconds: the kernel refuses one that takes a clock past KTIME_SEC_MAX / 2
 * (9223372036 / 2 seconds) or below 0 (ERANGE, proc_timens_set_offset in kernel/time/namespace.c);
 * both bounds depend on the clock's reading, which is checked at the spawn.
 */
export const TIME_OFFSET_MAX = 4611686018;

/** The sysctl that limits a kind (user.max_<kind>_namespaces under /proc/sys/user). */
export function namespaceLimitName(kind: NewNamespaceKind): string {
  return `max_${kind}_namespaces`;
}

export { spawnInPidNamespace } from './spawn';
export { PidNamespaceChild, type ExitStatus, type InitInfo } from './child';
export type { SpawnOptions, StdioOption, StdioEntry, StdioName, UserNamespaceOptions, IdMapping, JoinTarget } from './options';
export { nsPids, pidNamespaceId } from './proc';
export { PidnsSystemError } from './errors';
export { PidNamespace, type PidNamespaceOptions, type CloseOptions, type MemberSpawnOptions } from './namespace';
export type { NamespaceMember } from './proc';
export type { ResourceUsage } from './signals';
export type { CgroupOption, CgroupLimits, CgroupStats } from './cgroup';

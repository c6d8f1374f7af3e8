/** Public entry point of the HandyRep library. */
export { HandyRep, type HandyRepOptions, type StatusReport, type ServerStatusSummary } from './api/handyrep.js';
export { OPERATIONS, findOperation, type OperationSpec, type OperationName, type Access } from './api/operations.js';
export { HandyRepError, ERROR_CODES, type ErrorCode } from './model/errors.js';
export type { Rd, RdResult } from './model/rd.js';
export type { ServerRecord, ServerMap, Role } from './model/server.js';
export type { ServerStatus, ClusterStatus, ServerStatusName, ClusterStatusName } from './model/status.js';
export type * from './plugins/types.js';

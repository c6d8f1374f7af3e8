/** One running HandyRep controller, as its heartbeat row in the handyrep table tells it. */
export interface ControllerHeartbeat {
  /** Random per process start. */
  id: string;
  hostname: string;
  pid: number;
  state_file: string;
  started_ms: number;
  heartbeat_ms: number;
}

/**
 * HandyRep's log: JSON lines in the log file (pino) plus an in-memory tail that read_log serves.
 * Every message passes a scrubber that masks known secrets (every secret setting, redact.ts), so a
 * password that slipped into an error text from a library still never reaches the file or the API.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { maskList, maskSecrets } from './secret-mask.js';
import { maskDeep } from '../config/redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type AlertType = 'WARNING' | 'CRITICAL';

export interface LogEntry {
  ts: string;
  level: LogLevel;
  category: string;
  message: string;
  server?: string;
  alert?: AlertType;
}

export interface EventLogOptions {
  /** Absolute path of the log file, or 'stdout', or null for memory only (tests). */
  file: string | null;
  tailSize: number;
  verbose: boolean;
}

/**
 * The log may hold server names, commands and error texts: readable by its owner only. Created
 * 0600 before pino opens it; an existing file (say, made by logrotate) is narrowed to 0600 too.
 */
function createPrivateFile(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

type AlertListener = (entry: LogEntry) => void;

export class EventLog {
  private readonly tail: LogEntry[] = [];
  private sink: Logger | null;
  private secrets: string[] = [];
  /**
   * The forms masked in structured replies and saved state: secrets of 3 characters or more only,
   * so that a very short password cannot garble every reply that happens to contain it.
   */
  private replySecrets: string[] = [];
  private readonly alertListeners: AlertListener[] = [];

  /** The open log file (null for memory only or stdout), reopened by `reopen`. */
  private fileDestination: ReturnType<typeof pino.destination> | null = null;

  constructor(private options: EventLogOptions) {
    this.sink = this.openSink(options.file);
  }

  private openSink(file: string | null): Logger | null {
    if (file === null) return null;
    if (file !== 'stdout') createPrivateFile(file);
    const destination = file === 'stdout' ? pino.destination(1) : pino.destination({ dest: file, sync: true, mode: 0o600 });
    if (file !== 'stdout') this.fileDestination = destination;
    return pino({ base: null, level: 'debug', timestamp: pino.stdTimeFunctions.isoTime }, destination);
  }

  /** Close and open the log file again at its path (after logrotate renamed it); nothing for stdout or memory. */
  reopen(): void {
    if (this.sink === null) return;
    this.fileDestination?.reopen();
  }

  /** Replace the set of secret strings masked in every message (any length, escaped forms too). */
  setSecrets(values: readonly string[]): void {
    this.secrets = maskList(values);
    this.replySecrets = maskList(values.filter((v) => v.length >= 3));
  }

  /** A copy of a JSON-like value (an API reply) with the known secrets masked in its strings (see maskDeep). */
  maskSecrets<T>(value: T, textOnly = false): T {
    return maskDeep(value, this.replySecrets, textOnly);
  }

  setVerbose(verbose: boolean): void {
    this.options = { ...this.options, verbose };
  }

  get verbose(): boolean {
    return this.options.verbose;
  }

  onAlert(listener: AlertListener): void {
    this.alertListeners.push(listener);
  }

  private readonly entryListeners: ((entry: LogEntry) => void)[] = [];

  /** Be told every entry as it is written (already masked): the dashboard's live log. */
  onEntry(listener: (entry: LogEntry) => void): void {
    this.entryListeners.push(listener);
  }

  debug(category: string, message: string, server?: string): void {
    if (this.options.verbose) this.write('debug', category, message, server);
  }

  info(category: string, message: string, server?: string): void {
    this.write('info', category, message, server);
  }

  warn(category: string, message: string, server?: string, alert?: AlertType): void {
    this.write('warn', category, message, server, alert);
  }

  error(category: string, message: string, server?: string, alert?: AlertType): void {
    this.write('error', category, message, server, alert);
  }

  /** The newest `count` entries, newest first. */
  recent(count: number): LogEntry[] {
    return this.tail.slice(-count).reverse();
  }

  /** Flush and close the file. Idempotent. */
  close(): void {
    const sink = this.sink;
    this.sink = null;
    if (sink) sink.flush();
  }

  private write(level: LogLevel, category: string, message: string, server?: string, alert?: AlertType): void {
    const entry: LogEntry = { ts: new Date().toISOString(), level, category, message: this.scrub(message) };
    if (server !== undefined) entry.server = server;
    if (alert !== undefined) entry.alert = alert;
    this.tail.push(entry);
    if (this.tail.length > this.options.tailSize) this.tail.splice(0, this.tail.length - this.options.tailSize);
    const { ts: _ts, level: _level, message: msg, ...fields } = entry;
    this.sink?.[level](fields, msg);
    if (alert) for (const listener of this.alertListeners) listener(entry);
    for (const listener of this.entryListeners) {
      try {
        listener(entry);
      } catch {
        // A listener cannot log its own failure here without recursing; the entry is written.
      }
    }
  }

  private scrub(message: string): string {
    return maskSecrets(message, this.secrets);
  }
}

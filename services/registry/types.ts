export interface Department {
  id: string;
  name: string;
  createdAt: string;
}

export interface Device {
  id: string;
  name: string;
  department: string;
  type: string;
  district: string | null;
  lat: number | null;
  lon: number | null;
  createdAt: string;
  lastSeenAt: string | null;
}

export interface NewDevice {
  id?: string;
  name: string;
  department: string;
  type: string;
  district?: string | null;
  lat?: number | null;
  lon?: number | null;
}

export const SCOPES = ['read', 'write', 'provision', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKey {
  id: string;
  name: string;
  /** null = platform-wide key (operators); otherwise the department the key acts for. */
  department: string | null;
  scopes: Scope[];
  createdAt: string;
  revokedAt: string | null;
}

export interface DeadLetterReason {
  code: string;
  message: string;
  field?: string;
}

export interface NewDeadLetter {
  source: string;
  topic?: string | null;
  device?: string | null;
  reasons: DeadLetterReason[];
  payload: Buffer;
  receivedAt?: Date;
}

export interface DeadLetter {
  id: number;
  receivedAt: string;
  source: string;
  topic: string | null;
  device: string | null;
  reasons: DeadLetterReason[];
  /** UTF-8 text of the payload when it is text, else base64 (see `payloadEncoding`). */
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
  payloadSize: number;
  truncated: boolean;
}

export interface DeadLetterFilter {
  device?: string;
  reason?: string;
  source?: string;
  /** Only entries with an id below this one (paging, newest first). */
  before?: number;
  since?: Date;
  limit: number;
}

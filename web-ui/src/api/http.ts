/**
 * The one HTTP client of the console.
 *
 * - Unwraps the `/v1` envelope `{code, message, data}`: resolves with `data` when `code` is 0 and throws
 *   an {@link ApiError} (code, message, HTTP status, `data.fields`) otherwise.
 * - Holds the access token (sent as `Authorization: Bearer ...`) through a {@link TokenStore}.
 * - On 4010 it refreshes the access token **single-flight**: however many requests fail at once, one
 *   `POST /auth/refresh` runs and every failed request is retried once with the new token. Refresh tokens
 *   are single use (a second use revokes the whole login family), so the rotated refresh token is saved
 *   before anyone else can read the old one, and browser tabs coordinate through the Web Locks API.
 * - When the refresh fails the tokens are dropped and `onSessionExpired` sends the user to the login page.
 */

import { i18n } from '@/i18n'

export type FieldErrors = Record<string, string[]>
export type Query = Record<string, string | number | boolean | null | undefined>

export interface Envelope<T = unknown> {
  code: number
  message: string
  data: T
}

/** Error codes of the `/v1` API (docs/api.md); NETWORK is the client's own code for "no answer". */
export const ErrorCode = {
  NETWORK: -1,
  BAD_PARAMETER: 4001,
  FORBIDDEN: 4003,
  NOT_FOUND: 4004,
  CONFLICT: 4009,
  UNAUTHENTICATED: 4010,
  TOO_MANY_REQUESTS: 4029,
  INTERNAL: 5000,
} as const

export class ApiError extends Error {
  readonly code: number
  readonly status: number
  readonly fields: FieldErrors
  readonly data: unknown

  constructor(code: number, message: string, status = 0, fields: FieldErrors = {}, data: unknown = null) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = status
    this.fields = fields
    this.data = data
  }

  /** Field errors exist (4001 with `data.fields`). */
  get hasFields(): boolean {
    return Object.keys(this.fields).length > 0
  }
}

export function isApiError(value: unknown): value is ApiError {
  return value instanceof ApiError
}

export interface TokenPair {
  token: string
  refreshToken: string
}

/** Where the tokens live. The browser implementation persists them so a reload keeps the session. */
export interface TokenStore {
  readonly access: string | null
  readonly refresh: string | null
  save(pair: TokenPair): void
  clear(): void
}

export function memoryTokenStore(initial?: TokenPair): TokenStore {
  let pair: TokenPair | null = initial ?? null
  return {
    get access() {
      return pair?.token ?? null
    },
    get refresh() {
      return pair?.refreshToken ?? null
    },
    save(next) {
      pair = { token: next.token, refreshToken: next.refreshToken }
    },
    clear() {
      pair = null
    },
  }
}

export const TOKEN_STORAGE_KEY = 'djs.tokens'

/** Tokens in localStorage: shared by the tabs of one browser, read fresh on every access. */
export function storageTokenStore(storage: Storage = window.localStorage, key = TOKEN_STORAGE_KEY): TokenStore {
  const read = (): TokenPair | null => {
    try {
      const value = JSON.parse(storage.getItem(key) ?? 'null')
      return value && typeof value.token === 'string' && typeof value.refreshToken === 'string' ? value : null
    } catch {
      return null
    }
  }
  return {
    get access() {
      return read()?.token ?? null
    },
    get refresh() {
      return read()?.refreshToken ?? null
    },
    save(pair) {
      storage.setItem(key, JSON.stringify({ token: pair.token, refreshToken: pair.refreshToken }))
    },
    clear() {
      storage.removeItem(key)
    },
  }
}

/** Runs `fn` while holding an exclusive lock named `name` (across tabs when the browser supports it). */
export type LockRunner = <T>(name: string, fn: () => Promise<T>) => Promise<T>

export const webLocks: LockRunner = (name, fn) => {
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined
  return locks ? (locks.request(name, fn) as Promise<Awaited<ReturnType<typeof fn>>>) : fn()
}

export interface RequestOptions {
  query?: Query
  body?: unknown
  /** Send the access token and refresh on 4010 (default true). Login and refresh themselves use false. */
  auth?: boolean
  signal?: AbortSignal
}

export interface HttpClientOptions {
  /** Prefix of every path, e.g. `/v1`. */
  baseUrl: string
  store: TokenStore
  fetch?: typeof fetch
  lock?: LockRunner
  /** Called once when the session cannot be renewed (refresh failed or no refresh token). */
  onSessionExpired?: (error: ApiError) => void
  /** Called with the whole refresh answer (tokens and user) after a successful refresh. */
  onRefreshed?: (data: unknown) => void
  /** The console's UI language (`en`, `zh-CN`), sent as `Accept-Language` so the server's messages match it. */
  language?: () => string | null | undefined
}

export function buildQuery(query?: Query): string {
  if (!query) return ''
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    params.append(key, String(value))
  }
  const text = params.toString()
  return text ? `?${text}` : ''
}

function normalizeFields(data: unknown): FieldErrors {
  const raw = (data as { fields?: unknown } | null)?.fields
  if (!raw || typeof raw !== 'object') return {}
  const out: FieldErrors = {}
  for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
    out[key] = Array.isArray(value) ? value.map(String) : [String(value)]
  }
  return out
}

export class HttpClient {
  private options: HttpClientOptions
  private readonly fetchImpl: typeof fetch
  private readonly lock: LockRunner
  private refreshing: Promise<string> | null = null

  constructor(options: HttpClientOptions) {
    this.options = options
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
    this.lock = options.lock ?? webLocks
  }

  get store(): TokenStore {
    return this.options.store
  }

  /** Wire the session callbacks (the app does it once at start, after the router exists). */
  setSessionHandlers(handlers: Pick<HttpClientOptions, 'onSessionExpired' | 'onRefreshed'>): void {
    this.options = { ...this.options, ...handlers }
  }

  get<T>(path: string, query?: Query, options: Omit<RequestOptions, 'query' | 'body'> = {}): Promise<T> {
    return this.request<T>('GET', path, { ...options, query })
  }

  post<T>(path: string, body?: unknown, options: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body: body ?? {} })
  }

  put<T>(path: string, body: unknown, options: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body })
  }

  patch<T>(path: string, body: unknown, options: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body })
  }

  delete<T>(path: string, options: Omit<RequestOptions, 'body'> = {}): Promise<T> {
    return this.request<T>('DELETE', path, options)
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth !== false
    const tokenUsed = auth ? this.store.access : null
    try {
      return await this.send<T>(method, path, options, tokenUsed)
    } catch (error) {
      if (!auth || !isApiError(error) || error.code !== ErrorCode.UNAUTHENTICATED) throw error
      const fresh = await this.renewAccessToken(tokenUsed, error)
      try {
        return await this.send<T>(method, path, options, fresh)
      } catch (retryError) {
        if (isApiError(retryError) && retryError.code === ErrorCode.UNAUTHENTICATED) {
          // A brand-new token refused: the account was disabled or its sessions revoked meanwhile.
          this.expire(retryError)
        }
        throw retryError
      }
    }
  }

  /**
   * A valid access token after `stale` was refused: the one another request already obtained, or the
   * result of the single in-flight refresh (started here when none runs).
   */
  renewAccessToken(stale: string | null, cause?: ApiError): Promise<string> {
    const current = this.store.access
    if (current && current !== stale) return Promise.resolve(current)
    if (!this.refreshing) {
      this.refreshing = this.lock('djs-token-refresh', () => this.refreshUnderLock(stale, cause)).finally(() => {
        this.refreshing = null
      })
    }
    return this.refreshing
  }

  private async refreshUnderLock(stale: string | null, cause?: ApiError): Promise<string> {
    // Another tab may have refreshed while this one waited for the lock: its new token is in the store,
    // and presenting the old refresh token again would revoke the whole session family.
    const current = this.store.access
    if (current && current !== stale) return current
    const refreshToken = this.store.refresh
    if (!refreshToken) {
      throw this.expire(cause ?? new ApiError(ErrorCode.UNAUTHENTICATED, 'not signed in', 401))
    }
    let data: TokenPair
    try {
      data = await this.send<TokenPair>('POST', '/auth/refresh', { body: { refreshToken }, auth: false }, null)
    } catch (error) {
      const reason = isApiError(error)
        ? error
        : new ApiError(ErrorCode.UNAUTHENTICATED, 'session could not be renewed', 401)
      throw this.expire(reason)
    }
    this.store.save(data)
    this.options.onRefreshed?.(data)
    return data.token
  }

  private expire(error: ApiError): ApiError {
    this.store.clear()
    this.options.onSessionExpired?.(error)
    return error
  }

  private async send<T>(method: string, path: string, options: RequestOptions, token: string | null): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (token) headers.Authorization = `Bearer ${token}`
    const language = this.options.language?.()
    if (language) headers['Accept-Language'] = language
    let body: string | undefined
    if (options.body !== undefined && method !== 'GET' && method !== 'DELETE') {
      headers['Content-Type'] = 'application/json'
      body = JSON.stringify(options.body)
    }
    const url = this.options.baseUrl + path + buildQuery(options.query)
    let response: Response
    try {
      response = await this.fetchImpl(url, { method, headers, body, signal: options.signal, credentials: 'same-origin' })
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') throw error
      throw new ApiError(ErrorCode.NETWORK, `network error: ${(error as Error)?.message ?? error}`)
    }
    let envelope: Envelope<T>
    try {
      envelope = (await response.json()) as Envelope<T>
    } catch {
      throw new ApiError(
        response.ok ? ErrorCode.INTERNAL : ErrorCode.NETWORK,
        `unexpected answer (HTTP ${response.status})`,
        response.status,
      )
    }
    if (!envelope || typeof envelope.code !== 'number') {
      throw new ApiError(ErrorCode.INTERNAL, `unexpected answer (HTTP ${response.status})`, response.status)
    }
    if (envelope.code !== 0) {
      throw new ApiError(envelope.code, envelope.message, response.status, normalizeFields(envelope.data), envelope.data)
    }
    return envelope.data
  }
}

/** The `/v1` prefix (server.contextPath); the dev server proxies it to the platform. */
export const API_BASE = '/v1'

/** The console's single client instance; `src/api/<domain>.ts` modules call only this. */
export const http = new HttpClient({
  baseUrl: API_BASE,
  store: typeof window !== 'undefined' && window.localStorage ? storageTokenStore() : memoryTokenStore(),
  // messages and field errors come back in the UI language (docs/i18n.md); shown as they come
  language: () => i18n.global.locale.value,
})

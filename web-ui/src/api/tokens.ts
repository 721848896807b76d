import { http } from './http'
import type { Page, PageQuery } from './types'

/** A personal API token as listed (docs/api.md "API tokens"): never its secret. */
export interface ApiToken {
  id: number
  userId: number
  name: string
  /** `djs_pat_` and the secret's first 6 characters, to recognise it. */
  prefix: string
  state: 'active' | 'expired' | 'revoked'
  createTime: string
  createdById: number | null
  createdByName: string | null
  expiresAt: string | null
  lastUsedAt: string | null
  revokedAt: string | null
}

/** The answer of a create: the token and, this once, its secret. */
export interface CreatedApiToken extends ApiToken {
  token: string
}

export interface ApiTokenInput {
  name: string
  /** 1-3650; left out: the token never expires. */
  expiresInDays?: number
}

export function listApiTokens(userId: number, query: PageQuery): Promise<Page<ApiToken>> {
  return http.get<Page<ApiToken>>(`/users/${userId}/tokens`, { ...query })
}

export function createApiToken(userId: number, body: ApiTokenInput): Promise<CreatedApiToken> {
  return http.post<CreatedApiToken>(`/users/${userId}/tokens`, body)
}

export function revokeApiToken(userId: number, tokenId: number): Promise<ApiToken> {
  return http.delete<ApiToken>(`/users/${userId}/tokens/${tokenId}`)
}

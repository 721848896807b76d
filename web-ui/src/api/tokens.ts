import { http } from './http'
import type { components } from './schema.gen'
import type { ApiQuery, Page } from './types'

/** A personal API token as listed (docs/api.md "API tokens"): never its secret. */
export type ApiToken = components['schemas']['ApiTokenOutput']

/** The answer of a create: the token and, this once, its secret. */
export type CreatedApiToken = components['schemas']['ApiTokenCreatedOutput']

/** `expiresInDays` (1-3650) or `expiresAt`; neither: the token never expires. */
export type ApiTokenInput = components['schemas']['ApiTokenInputRequest']

export function listApiTokens(userId: number, query: ApiQuery<'users_tokens_list'>): Promise<Page<ApiToken>> {
  return http.get<Page<ApiToken>>(`/users/${userId}/tokens`, { ...query })
}

export function createApiToken(userId: number, body: ApiTokenInput): Promise<CreatedApiToken> {
  return http.post<CreatedApiToken>(`/users/${userId}/tokens`, body)
}

export function revokeApiToken(userId: number, tokenId: number): Promise<ApiToken> {
  return http.delete<ApiToken>(`/users/${userId}/tokens/${tokenId}`)
}

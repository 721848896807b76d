import { http } from './http'
import type { LoginResult, UserInfo } from './types'

export function login(username: string, password: string): Promise<LoginResult> {
  return http.post<LoginResult>('/auth/login', { username, password }, { auth: false })
}

/** Revokes every token of the user (all sessions), see docs/api.md. */
export function logout(): Promise<null> {
  return http.post<null>('/auth/logout', {})
}

export function userinfo(): Promise<UserInfo> {
  return http.get<UserInfo>('/auth/userinfo')
}

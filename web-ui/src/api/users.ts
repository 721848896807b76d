import { http } from './http'
import type { Page, PageQuery, Status01, User } from './types'

export interface UserQuery extends PageQuery {
  keyword?: string
  departmentId?: number
  roleId?: number
  status?: Status01
}

export interface UserInput {
  username: string
  /** Required on create; on update an empty value keeps the current password. */
  password?: string
  realName: string
  email?: string | null
  phone?: string | null
  departmentId: number
  roleId: number
  status: Status01
}

export function listUsers(query: UserQuery): Promise<Page<User>> {
  return http.get<Page<User>>('/users', { ...query })
}

export function getUser(id: number): Promise<User> {
  return http.get<User>(`/users/${id}`)
}

export function createUser(body: UserInput): Promise<User> {
  return http.post<User>('/users', body)
}

export function updateUser(id: number, body: UserInput): Promise<User> {
  return http.put<User>(`/users/${id}`, body)
}

export function deleteUser(id: number): Promise<null> {
  return http.delete<null>(`/users/${id}`)
}

/** Someone else's password: no old password needed (user:manage over them). Your own: give the old one. */
export function changePassword(id: number, newPassword: string, oldPassword?: string): Promise<null> {
  return http.patch<null>(`/users/${id}/password`, oldPassword ? { oldPassword, newPassword } : { newPassword })
}

import { http } from './http'
import type { components } from './schema.gen'
import type { ApiQuery, Page, User } from './types'

export type UserQuery = ApiQuery<'users_list'>

/** Create needs `password`; on update an empty or absent one keeps the current password. */
export type UserInput = components['schemas']['UserUpdateInputRequest']

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

import { http } from './http'
import type { components } from './schema.gen'
import type { ApiQuery, Page, Permission, Role } from './types'

export type RoleInput = components['schemas']['RoleInputRequest']

export function listRoles(query: ApiQuery<'roles_list'> = {}): Promise<Page<Role>> {
  return http.get<Page<Role>>('/roles', { ...query })
}

export function createRole(body: RoleInput): Promise<Role> {
  return http.post<Role>('/roles', body)
}

export function updateRole(id: number, body: RoleInput): Promise<Role> {
  return http.put<Role>(`/roles/${id}`, body)
}

export function deleteRole(id: number): Promise<null> {
  return http.delete<null>(`/roles/${id}`)
}

export function listPermissions(): Promise<Permission[]> {
  return http.get<Permission[]>('/permissions')
}

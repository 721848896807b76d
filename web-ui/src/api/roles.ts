import { http } from './http'
import type { Page, PageQuery, Permission, Role, Status01 } from './types'

export interface RoleInput {
  name: string
  description?: string | null
  permissions: number[]
  status: Status01
}

export function listRoles(query: PageQuery & { keyword?: string; status?: Status01 } = {}): Promise<Page<Role>> {
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

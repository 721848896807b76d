import { http } from './http'
import type { components } from './schema.gen'
import type { Department } from './types'

export type DepartmentInput = components['schemas']['DepartmentInputRequest']

export function listDepartments(keyword?: string): Promise<Department[]> {
  return http.get<Department[]>('/departments', { keyword })
}

export function departmentTree(): Promise<Department[]> {
  return http.get<Department[]>('/departments', { tree: 1 })
}

export function createDepartment(body: DepartmentInput): Promise<Department> {
  return http.post<Department>('/departments', body)
}

export function updateDepartment(id: number, body: DepartmentInput): Promise<Department> {
  return http.put<Department>(`/departments/${id}`, body)
}

export function deleteDepartment(id: number): Promise<null> {
  return http.delete<null>(`/departments/${id}`)
}

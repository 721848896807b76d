import 'element-plus/es/components/message/style/css'
import { ElMessage } from 'element-plus'
import { i18n } from '@/i18n'
import { isApiError } from '@/api/http'

const t = (key: string, params?: Record<string, unknown>) => i18n.global.t(key, params ?? {})

export function toastSuccess(message?: string): void {
  ElMessage({ type: 'success', message: message ?? t('common.saved'), grouping: true })
}

/** An error toast with a text of our own (a summary of invalid fields). */
export function toastErrorText(message: string): void {
  ElMessage({ type: 'error', message, grouping: true, showClose: true, duration: 5000 })
}

export function toastInfo(message: string): void {
  ElMessage({ type: 'info', message, grouping: true })
}

/** The text of an error, for an inline error state (a failed list, issue 20 defect 8). */
export function errorText(error: unknown): string {
  return isApiError(error) ? error.message : error instanceof Error ? error.message : String(error)
}

/** Shows what went wrong; session expiry (4010) is handled by the redirect to the login page instead. */
export function toastError(error: unknown): void {
  if (isApiError(error) && error.code === 4010) return
  const message = isApiError(error) ? error.message : error instanceof Error ? error.message : String(error)
  ElMessage({ type: 'error', message, grouping: true, showClose: true, duration: 5000 })
}

/** Resolves true when the user confirms. The message box's code loads with the first question (issue 20). */
export async function confirmDanger(message: string, title?: string): Promise<boolean> {
  const { ElMessageBox } = await import('./confirmBox')
  try {
    await ElMessageBox.confirm(message, title ?? t('common.confirmTitle'), {
      type: 'warning',
      confirmButtonText: t('common.confirm'),
      cancelButtonText: t('common.cancel'),
      confirmButtonClass: 'el-button--danger',
      customClass: 'djs-confirm',
    })
    return true
  } catch {
    return false
  }
}

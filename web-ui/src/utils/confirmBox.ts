import 'element-plus/es/components/message-box/style/css'
import { ElMessageBox } from 'element-plus'

/** Element Plus's message box (~75 KB of code): loaded by `confirmDanger` when a page first asks, not with it. */
export { ElMessageBox }

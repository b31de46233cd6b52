variable "NOTHING" {
  default = null
}
target "default" {
  args = {
    A = "v-${NOTHING}"
  }
}

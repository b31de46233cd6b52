variable "PORTS" {
  type = list(number)
}
target "default" {
  args = {
    P = join(",", PORTS)
  }
}

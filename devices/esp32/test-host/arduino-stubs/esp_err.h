// Stub of ESP-IDF 4.4 <esp_err.h>.
#pragma once

#include <stdint.h>

typedef int esp_err_t;
#define ESP_OK 0
#define ESP_FAIL -1

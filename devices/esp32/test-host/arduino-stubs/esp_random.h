// Stub of ESP-IDF 4.4 <esp_random.h>.
#pragma once

#include <stdint.h>

uint32_t esp_random(void);
